// The `icboot` command line: each command parses its flags and calls one module.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { Principal } from '@dfinity/principal';
import { startDevnet } from '../devnet/index.ts';
import { connect, icbootCanister, requireCanisterId, type CommonOptions, type Connection } from '../client/canister.ts';
import { deploy, type DeployMode } from '../client/deploy.ts';
import { UserError } from '../client/errors.ts';
import type { IcbootService } from '../common/icboot_idl.ts';
import { retry } from '../client/retry.ts';
import { writeVerified } from '../client/spool.ts';
import { VerifiedReader } from '../client/verify.ts';
import { DEFAULT_CHUNK_SIZE, DEFAULT_CONCURRENCY, upload } from '../uploader/upload.ts';
import { MAX_CHUNK_BYTES, MIN_CHUNK_SIZE } from '../common/limits.ts';
import { GATEWAY_DEFAULTS } from '../gateway/defaults.ts';
import { TFTP_DEFAULTS } from '../gateway/tftp/server.ts';
import { bytes, isoTime, table } from './format.ts';
import { progressPrinter } from './progress.ts';

function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
    return n;
  };
}
const port = integer(0, 65535);
const releaseId = integer(1, Number.MAX_SAFE_INTEGER);

interface Endpoint {
  host: string;
  port: number;
}

function endpoint(value: string): Endpoint {
  const m = /^(.*):(\d+)$/.exec(value);
  if (!m || !m[1]) throw new InvalidArgumentError('must be HOST:PORT, e.g. 192.168.122.1:69');
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port: port(m[2]) };
}

function endpointOrOff(value: string): Endpoint | null {
  return value === 'off' ? null : endpoint(value);
}

function byteCount(value: string): number {
  const m = /^(\d+)([KMG]?)(i?B)?$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError('must be a byte count such as 268435456, 256M or 4G');
  return Number(m[1]) * 1024 ** ' KMG'.indexOf(m[2].toUpperCase() || ' ');
}

function fraction(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('must be a number from 0 to 1');
  return n;
}

function collectHash(value: string, previous: string[]): string[] {
  if (!/^[0-9a-f]{64}$/.test(value)) throw new InvalidArgumentError('must be a SHA-256 in hex (64 characters)');
  return [...previous, value];
}

function principal(value: string): Principal {
  try {
    return Principal.fromText(value);
  } catch {
    throw new InvalidArgumentError('must be a principal (e.g. aaaaa-aa or a dfx identity\'s principal)');
  }
}

/** The flags shared by every command that talks to a canister. */
function canisterCommand(parent: Command, name: string, description: string): Command {
  return parent.command(name)
    .description(description)
    .addOption(new Option('--network <network>', 'local, ic, or an endpoint URL').env('ICBOOT_NETWORK').default('local'))
    .addOption(new Option('--canister <id>', 'icboot canister id (default: recorded by deploy, or dfx\'s canister_ids.json)').env('ICBOOT_CANISTER'))
    .option('--identity <name>', 'dfx identity to sign with')
    .option('--pem <file>', 'PEM file (Ed25519 or secp256k1) to sign with');
}

const where = (c: Connection): string => (c.network.name === c.network.host ? c.network.host : `${c.network.name} (${c.network.host})`);

const notice = (line: string): void => {
  process.stderr.write(line + '\n');
};

async function open(o: CommonOptions): Promise<{ c: Connection; canister: IcbootService; reader: VerifiedReader }> {
  const c = await connect(o, notice);
  const id = requireCanisterId(c.network, o.canister);
  const canister = icbootCanister(c, id);
  return { c, canister, reader: new VerifiedReader(canister, c.agent, id) };
}

export function program(): Command {
  const p = new Command('icboot')
    .description('Network boot (PXE over TFTP/HTTP) from boot trees certified by an Internet Computer canister')
    .configureOutput({ outputError: (text, write) => write(`icboot: ${text.replace(/^error: /, '')}`) });

  p.command('devnet')
    .description('run a local IC endpoint that hosts canister wasm, for dfx-less development and tests')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 picks a free one)', port, 4943)
    .option('--state-dir <dir>', 'where keys, canisters and stable memory are kept', '.icboot/devnet')
    .option('--latency <ms>', 'fault injection: delay every reply', integer(0, 60_000))
    .option('--fail-queries <fraction>', 'fault injection: answer this share of queries with HTTP 503', fraction)
    .option('--corrupt-chunk <sha256>', 'fault injection: corrupt query replies naming this chunk (repeatable)', collectHash, [])
    .action(async (o: { host: string; port: number; stateDir: string; latency?: number; failQueries?: number; corruptChunk: string[] }) => {
      const devnet = await startDevnet({
        host: o.host, port: o.port, stateDir: o.stateDir,
        faults: { latencyMs: o.latency, failQueries: o.failQueries, corruptChunks: o.corruptChunk },
      });
      process.stdout.write(`devnet listening on ${devnet.url}\n`);
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        process.stderr.write(`devnet: ${signal}, shutting down\n`);
        devnet.close().then(() => process.exit(0), (e: Error) => {
          process.stderr.write(`devnet: shutdown failed: ${e.message}\n`);
          process.exit(1);
        });
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });

  p.command('sample')
    .description('assemble a bootable PXE tree from Debian packages (no downloads)')
    .argument('<kind>', 'debian: the Debian 12 netboot installer, serial console')
    .argument('[dir]', 'where to write it', 'debian-tree')
    .action(async (kind: string, dir: string) => {
      if (kind !== 'debian') throw new UserError(`unknown sample "${kind}" (available: debian)`);
      const { assembleDebianTree } = await import('./sample.ts');
      assembleDebianTree(dir);
      process.stdout.write(`${dir}\n`);
    });

  p.command('libvirt-network')
    .description('print (or --apply) a libvirt network whose DHCP points PXE clients at the gateway')
    .option('--name <name>', 'libvirt network name', 'default')
    .option('--gateway-ip <ip>', 'bridge address the gateway listens on', '192.168.122.1')
    .option('--bootfile <file>', 'boot file handed out by DHCP', 'pxelinux.0')
    .option('--apply', 'define and restart the network with virsh')
    .action(async (o: { name: string; gatewayIp: string; bootfile: string; apply?: boolean }) => {
      const { applyNetwork, networkXml } = await import('../gateway/libvirt.ts');
      const xml = networkXml(o);
      process.stdout.write(xml);
      if (o.apply) applyNetwork(o, xml, notice);
    });

  canisterCommand(p, 'gateway', 'serve the certified boot tree over TFTP (and HTTP) to PXE clients')
    .option('--tftp <host:port>', 'TFTP address', endpoint, { host: '0.0.0.0', port: 69 })
    .option('--http <host:port|off>', 'HTTP address for iPXE, or off', endpointOrOff, null)
    .option('--release <n|current>', 'release to serve', (v: string) => (v === 'current' ? null : releaseId(v)), null)
    .option('--poll <seconds>', 'how often to look for a new certified release', integer(1, 86_400), 30)
    .option('--cache-dir <dir>', 'verified chunk cache on disk; keeps serving while the canister is unreachable')
    .option('--cache-mem <bytes>', 'memory cache budget (suffixes K, M, G)', byteCount, 256 * 1024 * 1024)
    .option('--cache-disk <bytes>', 'disk cache budget (suffixes K, M, G)', byteCount, 4 * 1024 * 1024 * 1024)
    .option('--max-transfers <n>', 'concurrent TFTP transfers', integer(1, 10_000), TFTP_DEFAULTS.maxTransfers)
    .option('--max-per-client <n>', 'concurrent TFTP transfers per client address', integer(1, 10_000), TFTP_DEFAULTS.maxPerClient)
    .option('--max-per-subnet <n>', 'concurrent TFTP transfers per /24 of client addresses', integer(1, 10_000), TFTP_DEFAULTS.maxPerSubnet)
    .option('--min-rate <bytes>', 'when TFTP slots run out, a transfer slower than this many bytes/s gives its slot to a new client (suffixes K, M)',
      byteCount, TFTP_DEFAULTS.minRate)
    .option('--fetch-timeout <seconds>', 'how long one read from the canister may take before the transfer needing it fails',
      integer(1, 600), GATEWAY_DEFAULTS.fetchTimeoutMs / 1000)
    .option('--max-http-connections <n>', 'open HTTP connections at most', integer(1, 1_000_000), GATEWAY_DEFAULTS.maxHttpConnections)
    .option('--no-prefetch', 'do not load each new release into the cache ahead of requests')
    .action(async (o: CommonOptions & {
      tftp: Endpoint; http: Endpoint | null; release: number | null; poll: number; cacheDir?: string;
      cacheMem: number; cacheDisk: number; maxTransfers: number; maxPerClient: number; maxPerSubnet: number; minRate: number;
      fetchTimeout: number; maxHttpConnections: number; prefetch: boolean;
    }) => {
      const { startGateway } = await import('../gateway/index.ts');
      const log = (line: string): void => {
        process.stderr.write(`${new Date().toISOString()} ${line}\n`);
      };
      // The last resort: a fault in serving one client must not stop the others.
      process.on('uncaughtException', (e) => log(`internal error (still serving): ${e.stack ?? e.message}`));
      process.on('unhandledRejection', (e) => log(`internal error (still serving): ${e instanceof Error ? e.stack : String(e)}`));
      const g = await startGateway({ ...o, pollSeconds: o.poll, fetchTimeoutMs: o.fetchTimeout * 1000, log });
      for (const t of g.tftp) process.stdout.write(`tftp listening on ${t.host}:${t.port}\n`);
      if (g.http) process.stdout.write(`http listening on http://${g.http.host}:${g.http.port}\n`);
      const stop = (): void => {
        g.close().then(() => process.exit(0), () => process.exit(1));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });

  canisterCommand(p, 'deploy', 'build the icboot canister if needed, create it on first deploy, install or upgrade it')
    .addOption(new Option('--mode <mode>', 'install mode').choices(['auto', 'install', 'upgrade', 'reinstall']).default('auto'))
    .action(async (o: CommonOptions & { mode: DeployMode }) => {
      const c = await connect(o, notice);
      const r = await deploy(c, o.mode, o.canister, notice);
      notice(`${r.action === 'unchanged' ? 'module unchanged' : r.action} on ${where(c)}`);
      process.stdout.write(`${r.canisterId.toText()}\n`);
    });

  canisterCommand(p, 'upload', 'upload a boot tree directory and publish it as a new release')
    .argument('<dir>', 'boot tree, laid out like /srv/tftp')
    .option('--label <text>', 'release label', '')
    .option('--dry-run', 'say what would be sent, send nothing')
    .option('--no-publish', 'create the release without making it current')
    .option('--concurrency <n>', 'calls in flight', integer(1, 64), DEFAULT_CONCURRENCY)
    .option('--chunk-size <bytes>', 'chunk size', integer(MIN_CHUNK_SIZE, MAX_CHUNK_BYTES), DEFAULT_CHUNK_SIZE)
    .action(async (dir: string, o: CommonOptions & { label: string; dryRun?: boolean; publish: boolean; concurrency: number; chunkSize: number }) => {
      const { canister } = await open(o);
      const show = progressPrinter(process.stderr);
      const r = await upload(canister, dir, {
        label: o.label || dir, chunkSize: o.chunkSize, concurrency: o.concurrency, dryRun: Boolean(o.dryRun), publish: o.publish,
      }, show.update);
      show.done();
      const sent = `${o.dryRun ? 'would send' : 'sent'} ${bytes(r.bytesSent)}`;
      process.stdout.write(`${r.files} files, ${bytes(r.bytes)}, ${r.chunks} chunks (${r.newChunks} new, ${r.reusedChunks} reused), ${sent} in ${r.seconds.toFixed(1)} s\n`);
      if (r.releaseId !== null) process.stdout.write(`release ${r.releaseId}${r.published ? ' published' : ' created (not published)'}\n`);
    });

  canisterCommand(p, 'ls', 'list the files of a release (verified)')
    .option('--release <n>', 'release id (default: current)', releaseId)
    .option('-l, --long', 'show size and SHA-256')
    .action(async (o: CommonOptions & { release?: number; long?: boolean }) => {
      const { reader } = await open(o);
      const m = await retry(async () => reader.manifest(await reader.index(), o.release));
      const lines = o.long ? table(m.files.map((f) => [String(f.size), f.sha256, f.path])) : m.files.map((f) => f.path).join('\n');
      if (lines) process.stdout.write(lines + '\n');
    });

  canisterCommand(p, 'cat', 'write a file of a release to stdout, verified against the certified release')
    .argument('<path>', 'path inside the boot tree')
    .option('--release <n>', 'release id (default: current)', releaseId)
    .action(async (path: string, o: CommonOptions & { release?: number }) => {
      const { reader } = await open(o);
      const m = await retry(async () => reader.manifest(await reader.index(), o.release));
      const wanted = path.replace(/^\/+/, '');
      const file = m.files.find((f) => f.path === wanted);
      if (!file) throw new UserError(`${wanted}: no such file in release ${m.id}`);
      await writeVerified(file, (hash) => retry(() => reader.chunk(hash)), process.stdout);
    });

  canisterCommand(p, 'releases', 'list releases (verified); * marks the current one')
    .action(async (o: CommonOptions) => {
      const { reader } = await open(o);
      const { index } = await retry(() => reader.index());
      const rows = index.releases.map((r) => [
        `${r.id === index.current ? '*' : ' '}${r.id}`, isoTime(r.created), String(r.files), bytes(r.bytes), r.author, r.label,
      ]);
      process.stdout.write(table([[' ID', 'CREATED', 'FILES', 'SIZE', 'AUTHOR', 'LABEL'], ...rows]) + '\n');
    });

  canisterCommand(p, 'publish', 'make a release current (roll forward or back)')
    .argument('<release>', 'release id', releaseId)
    .action(async (id: number, o: CommonOptions) => {
      const { canister } = await open(o);
      await canister.publish(BigInt(id));
      process.stdout.write(`release ${id} is now current\n`);
    });

  canisterCommand(p, 'delete', 'delete a release that is not current and reclaim chunks no release uses')
    .argument('<release>', 'release id', releaseId)
    .action(async (id: number, o: CommonOptions) => {
      const { canister } = await open(o);
      await canister.delete_release(BigInt(id));
      let freed = 0n;
      let deleted = 0;
      for (;;) {
        const r = await canister.gc(200);
        freed += r.freed_bytes;
        deleted += r.deleted;
        if (r.deleted === 0 || r.remaining === 0n) break;
      }
      process.stdout.write(`release ${id} deleted; ${deleted} unused chunks reclaimed (${bytes(Number(freed))})\n`);
    });

  canisterCommand(p, 'authorize', 'allow a principal to upload and publish (controllers only)')
    .argument('<principal>', 'principal to authorize', principal)
    .action(async (who: Principal, o: CommonOptions) => {
      const { canister } = await open(o);
      await canister.authorize(who);
      process.stdout.write(`${who.toText()} may now write\n`);
    });

  canisterCommand(p, 'deauthorize', 'withdraw a principal\'s write access (controllers only)')
    .argument('<principal>', 'principal to deauthorize', principal)
    .action(async (who: Principal, o: CommonOptions) => {
      const { canister } = await open(o);
      await canister.deauthorize(who);
      process.stdout.write(`${who.toText()} may no longer write\n`);
    });

  canisterCommand(p, 'status', 'releases, chunks, storage, dedup ratio and cycles of the canister')
    .action(async (o: CommonOptions) => {
      const { c, canister } = await open(o);
      const s = await canister.status();
      const stored = Number(s.chunk_bytes);
      const logical = Number(s.logical_bytes);
      process.stdout.write(table([
        ['network', where(c)],
        ['canister', requireCanisterId(c.network, o.canister).toText()],
        ['releases', String(s.releases)],
        ['current', s.current.length ? String(s.current[0]) : '(none)'],
        ['chunks', `${s.chunks} (${bytes(stored)})`],
        ['unused chunks', String(s.garbage_chunks)],
        ['release bytes', bytes(logical)],
        ['dedup ratio', stored > 0 ? `${(logical / stored).toFixed(2)}x` : '-'],
        ['authorized', String(s.authorized)],
        ['cycles', s.cycles.toLocaleString('en-US')],
      ]) + '\n');
    });

  return p;
}

export async function main(argv: string[]): Promise<void> {
  // `icboot cat FILE | head` closes the pipe early: that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  try {
    await program().exitOverride().parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version output are not errors; usage errors were already printed.
      process.exitCode = e.exitCode;
      return;
    }
    const err = e as Error;
    const message = process.env.ICBOOT_DEBUG ? err.stack : e instanceof UserError ? err.message : err.message.split('\n')[0];
    process.stderr.write(`icboot: ${message}\n`);
    process.exitCode = 1;
  }
}

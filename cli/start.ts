// `npm start`: the whole chain on one machine, no root and no dfx. Starts the
// devnet (state under .icboot/), deploys the canister if needed, uploads the
// Debian sample where its packages are installed, else samples/tftp (no new
// release when unchanged; cli/start_tree.ts), and serves it with the gateway
// on 127.0.0.1:6969 (TFTP) and 127.0.0.1:8080 (HTTP). Ctrl-C stops it all.
// `npm start -- --log-format json` logs JSON lines, as the gateway does.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect, icbootCanister } from '../client/canister.ts';
import { deploy } from '../client/deploy.ts';
import { PROJECT_DIR } from '../canister/icboot_module.ts';
import { UserError } from '../client/errors.ts';
import { startDevnet } from '../devnet/index.ts';
import { GATEWAY_DEFAULTS } from '../gateway/defaults.ts';
import { startGateway } from '../gateway/index.ts';
import { TFTP_DEFAULTS } from '../gateway/tftp/server.ts';
import { DEFAULT_CHUNK_SIZE, DEFAULT_CONCURRENCY, upload } from '../uploader/upload.ts';
import { createLogger, parseLogFormat } from './log.ts';
import { prepareTree, qemuCommand } from './start_tree.ts';

const DEVNET = { host: '127.0.0.1', port: 4943 };
const TFTP = { host: '127.0.0.1', port: 6969 };
const HTTP = { host: '127.0.0.1', port: 8080 };
const STATE_DIR = '.icboot';

/** The format `npm start -- --log-format FORMAT` asks for, or why it is refused (main() reports it as any failure to start). */
function logFormat(): ReturnType<typeof parseLogFormat> | Error {
  try {
    const { values } = parseArgs({ options: { 'log-format': { type: 'string', default: 'text' } } });
    return parseLogFormat(values['log-format']);
  } catch (e) {
    return e as Error;
  }
}
const format = logFormat();
const log = createLogger(format instanceof Error ? 'text' : format);
const say = (line: string): void => log.info(line);

/** What has started so far, closed last-started first when stopping. */
const running: { close(): Promise<void> }[] = [];
let stopping = false;

async function closeAll(): Promise<void> {
  for (const part of running.reverse()) await part.close();
}

function stop(): void {
  if (stopping) return;
  stopping = true;
  say('stopping');
  closeAll().then(() => process.exit(0), (e: Error) => {
    log.error(`icboot: shutdown failed: ${e.message}`);
    process.exit(1);
  });
}

async function main(): Promise<void> {
  if (format instanceof Error) throw new UserError(format.message);
  // Before anything starts: Ctrl-C at any moment, even right after the banner, closes what is running.
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // 'local' is http://127.0.0.1:4943: the ids deploy records then serve plain `npx icboot ls`.
  const network = 'local';
  const devnet = await startDevnet({ ...DEVNET, stateDir: join(STATE_DIR, 'devnet'), log: () => {} }).catch((e: NodeJS.ErrnoException) => {
    throw new UserError(e.code === 'EADDRINUSE' ? `port ${DEVNET.port} is in use (is dfx or another devnet running?)` : e.message);
  });
  running.push(devnet);
  log.info(`devnet listening on ${devnet.url} (state in ${STATE_DIR}/devnet)`, { url: devnet.url });
  const c = await connect({ network }, say);
  const { canisterId, action } = await deploy(c, 'auto', undefined, say);
  log.info(`canister ${canisterId.toText()}: ${action === 'unchanged' ? 'up to date' : action}`, { canister: canisterId.toText(), action });
  const tree = prepareTree(STATE_DIR, PROJECT_DIR);
  const r = await upload(icbootCanister(c, canisterId), tree.dir, {
    label: tree.label, chunkSize: DEFAULT_CHUNK_SIZE, concurrency: DEFAULT_CONCURRENCY, dryRun: false, publish: true, skipIfCurrent: true,
  });
  log.info(r.unchanged ? `${tree.label} unchanged: release ${r.releaseId} is current` : `${tree.label} uploaded as release ${r.releaseId}`,
    { release: Number(r.releaseId), label: tree.label });
  const g = await startGateway({
    network, canister: canisterId.toText(), tftp: TFTP, http: HTTP, release: null, pollSeconds: 5,
    cacheDir: join(STATE_DIR, 'cache'), cacheMem: 64 * 1024 * 1024, cacheDisk: 1024 * 1024 * 1024,
    ...TFTP_DEFAULTS, ...GATEWAY_DEFAULTS, maxTransfers: 64, maxPerClient: 16, prefetch: true, log: say,
  });
  running.push(g);
  const web = `http://${HTTP.host}:${HTTP.port}`;
  const boot = tree.kind === 'debian'
    ? `Boot a guest from it (the Debian installer on this terminal; Ctrl-A X quits QEMU):\n  ${qemuCommand(HTTP.port)}\n`
    : `Nothing here boots; for the Debian installer: apt-get install ${tree.missing.join(' ')}, then npm start again\n`;
  process.stdout.write(`
icboot is running: devnet ${devnet.url}, TFTP ${TFTP.host}:${TFTP.port}, HTTP ${web}, serving ${tree.label}
${boot}Try:
  curl tftp://${TFTP.host}:${TFTP.port}/pxelinux.cfg/default
  curl ${web}${tree.kind === 'debian' ? '/boot.ipxe' : '/README.txt'}
  npx icboot ls -l
The status page is ${web}/, metrics ${web}/metrics.
Ctrl-C stops everything.
`);
}

main().catch((e: Error) => {
  // A start cut short by Ctrl-C ends through stop(), with its own exit code.
  if (stopping) return;
  log.error(`icboot: ${e instanceof UserError ? e.message : e.stack}`);
  process.exit(1);
});

// `npm run bench` (gateway part, issue 16's targets 1, 2 and 5): the gateway
// against tftpd-hpa serving the same Debian netboot tree from disk, same
// clients, same files, in one run and one table:
// - single lock-step transfers (curl, blksize 1468 and 512; linux then
//   initrd.gz), warm cache, median of alternating pairs; atftp windowsize 16
//   for information (tftpd-hpa has no windowsize and answers it lock-step);
// - a boot storm: STORM_CLIENTS curls at once, each fetching linux then
//   initrd.gz. The gateway starts empty with --no-prefetch, so the storm pulls
//   every chunk, and must ask the canister for each distinct chunk once; its
//   RSS is sampled against 200 MB + its memory cache budget;
// - the storm again with 1% of UDP datagrams dropped in both directions, on
//   a smaller file (LOSSY_FILES says why).
// Everything runs in a network namespace of its own (lab/loss.ts), on its
// loopback. ICBOOT_BENCH_QUICK=1: 20 clients and 3 pairs, for a look in a
// few minutes.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { cliEnv, icboot } from '../lab/cli.ts';
import { freePort, startDevnetProcess } from '../lab/devnet.ts';
import { startGateway, type RunningGateway } from '../lab/gateway.ts';
import { UdpLoss, inOwnNetns, ownNetns } from '../lab/loss.ts';
import { until } from '../lab/poll.ts';
import { stopChild } from '../lab/process.ts';
import { metricSum } from '../lab/prometheus.ts';
import { sampleRss, type MemoryPeak } from '../lab/rss.ts';
import { socketsOn } from '../lab/proc_net.ts';
import { atftpWindowed, curl, expectedFiles, storm, tftpHpa, type ExpectedFile, type StormResult, type TftpClient } from '../lab/tftp_storm.ts';
import { hashFile } from '../uploader/chunker.ts';
import { debianNetboot } from '../cli/sample.ts';
import { median, mbs } from './figures.ts';
import { orExit } from './or_exit.ts';

const QUICK = Boolean(process.env.ICBOOT_BENCH_QUICK);
const STORM_CLIENTS = QUICK ? 20 : 100;
const PAIRS = QUICK ? 3 : 5;
const LOSS = 0.01;
const FILES = ['debian-installer/amd64/linux', 'debian-installer/amd64/initrd.gz'];
/**
 * What the lossy storm's clients fetch. Its time is retransmit timeouts, and tftpd-hpa loses far more
 * than its 1 s timeout per lost datagram: at 1%, 20 curls took 138 s for bootnetx64.efi (714 blocks;
 * the gateway 115 s), so linux and initrd.gz (33,400 blocks) would take hours per server.
 */
const LOSSY_FILES = ['debian-installer/amd64/bootnetx64.efi'];
const IN_TFTPD = '/usr/sbin/in.tftpd';
/** Target 5: the gateway's RSS stays under this plus its memory cache budget. */
const RSS_ALLOWANCE = 200e6;
const TOOLS: Record<string, string> = {
  [IN_TFTPD]: 'tftpd-hpa', '/usr/bin/curl': 'curl', '/usr/bin/atftp': 'atftp', '/usr/bin/tftp': 'tftp-hpa', '/usr/sbin/iptables': 'iptables', '/usr/sbin/ip': 'iproute2',
};

const missing = Object.keys(TOOLS).filter((f) => !existsSync(f));
if (missing.length) {
  console.error(`${missing.join(', ')} missing: apt-get install ${[...new Set(missing.map((f) => TOOLS[f]))].join(' ')}`);
  process.exit(1);
}
const tree = orExit(debianNetboot);
if (ownNetns() === null) await inOwnNetns('icboot-bench');

const total = FILES.reduce((n, f) => n + statSync(join(tree, f)).size, 0);
// What the clients receive goes to tmpfs, so that disk writeback is not part of either server's time.
const scratch = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'icboot-bench-storm-'));
let runs = 0;

/** Files a client fetches, with what checks them. */
interface FileSet {
  paths: string[];
  expected: ExpectedFile[];
  /** Distinct chunk hashes among them: the canister queries a gateway with an empty cache should make. */
  distinct: number;
}

async function fileSet(paths: string[], chunkSize: number): Promise<FileSet> {
  const hashed = await Promise.all(paths.map((path) => hashFile({ path, source: join(tree, path), size: statSync(join(tree, path)).size }, chunkSize)));
  const distinct = new Set(hashed.flatMap((f) => f.chunks.map((c) => Buffer.from(c).toString('hex')))).size;
  return { paths, expected: await expectedFiles(tree, paths), distinct };
}

function fetchAll(client: TftpClient, port: number, files: FileSet, clients: number, fetchTimeoutMs: number): Promise<StormResult> {
  return storm({ client, port, files: files.expected, clients, out: join(scratch, String(runs++)), fetchTimeoutMs });
}

/** Seconds for one client to fetch `files`; a failed fetch ends the benchmark, as it has no time to report. */
async function single(client: TftpClient, port: number, files: FileSet): Promise<number> {
  const r = await fetchAll(client, port, files, 1, 120_000);
  if (r.failures.length) throw new Error(`single transfer from port ${port}: ${r.failures[0].path}: ${r.failures[0].reason}`);
  return r.seconds;
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(0)} MB`;
const failed = (r: StormResult): string => `${r.failures.length} of ${r.transfers} failed`;
const verdict = (ok: boolean): string => (ok ? 'pass' : 'FAIL');

async function metrics(gw: RunningGateway): Promise<string> {
  const res = await fetch(new URL('/metrics', gw.httpUrl), { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`gateway /metrics: HTTP ${res.status}`);
  return res.text();
}

const chunkQueries = async (gw: RunningGateway): Promise<number> =>
  metricSum(await metrics(gw), 'icboot_gateway_canister_queries_total', { kind: 'chunk' }) ?? 0;

const devnet = await startDevnetProcess();
const env = cliEnv(devnet.url);
// A free TCP port is as good as a free UDP one in a namespace nothing else uses.
const hpaPort = await freePort();
const hpa = spawn(IN_TFTPD, ['-L', '-a', `127.0.0.1:${hpaPort}`, '-s', tree], { stdio: 'ignore' });
const gateways: RunningGateway[] = [];
/** The clients of a storm share 127.0.0.1: the per-client and per-subnet caps are raised to let all of them in at once. */
const STORM_CAPS = ['--max-transfers', String(Math.max(256, STORM_CLIENTS)), '--max-per-client', String(STORM_CLIENTS),
  '--max-per-subnet', String(STORM_CLIENTS)];

/** A gateway that serves the uploaded release (its listening lines come before the release is loaded). */
async function gateway(extra: string[] = []): Promise<RunningGateway> {
  const gw = await startGateway(env, [...STORM_CAPS, ...extra]);
  gateways.push(gw);
  await until(async () => metricSum(await metrics(gw), 'icboot_gateway_release_info') === 1, 'gateway serving the release', 60_000, 200);
  return gw;
}

async function stop(gw: RunningGateway): Promise<void> {
  await gw.stop();
  gateways.splice(gateways.indexOf(gw), 1);
}

/** A storm on each server; the gateway's starts empty, without prefetch. */
async function storms(files: FileSet, clients: number, fetchTimeoutMs: number, client: TftpClient = curl(1468)): Promise<{ hpa: StormResult; gw: StormResult; queries: number; memory: MemoryPeak; budget: number }> {
  const h = await fetchAll(client, hpaPort, files, clients, fetchTimeoutMs);
  const gw = await gateway(['--no-prefetch']);
  try {
    // The sampled PID must be node itself, not a wrapper around it.
    const pid = gw.process.pid!;
    if (readlinkSync(`/proc/${pid}/exe`) !== realpathSync(process.execPath)) throw new Error(`gateway PID ${pid} is not node`);
    const page = await metrics(gw);
    const budget = metricSum(page, 'icboot_gateway_cache_limit_bytes', { tier: 'memory' }) ?? NaN;
    const before = metricSum(page, 'icboot_gateway_canister_queries_total', { kind: 'chunk' }) ?? 0;
    const rss = sampleRss(pid, 100);
    let g: StormResult;
    let memory: MemoryPeak;
    try {
      g = await fetchAll(client, gw.tftpPort, files, clients, fetchTimeoutMs);
    } finally {
      memory = rss.stop();
    }
    if (g.failures.length > 0) {
      // What the gateway said of transfers that did not end well, for whoever looks into a failure.
      for (const line of gw.logs.filter((l) => /\btftp\b/.test(l) && !/ ok$/.test(l)).slice(0, 20)) notes.push(`gateway log: ${line}`);
    }
    return { hpa: h, gw: g, queries: (await chunkQueries(gw)) - before, memory, budget };
  } finally {
    await stop(gw);
  }
}

const rows: string[][] = [['case', 'tftpd-hpa', 'icboot gateway', 'ratio', 'target']];
const notes: string[] = [];
const timings: string[] = [];
async function section<T>(name: string, body: () => Promise<T>): Promise<T> {
  const t = performance.now();
  console.error(`bench/gateway: ${name}…`);
  try {
    return await body();
  } finally {
    timings.push(`${name} ${((performance.now() - t) / 1000).toFixed(0)} s`);
  }
}

function stormRows(label: string, files: FileSet, clients: number, s: Awaited<ReturnType<typeof storms>>, who = 'curls'): void {
  const names = files.paths.map((p) => p.split('/').pop()).join(', ');
  rows.push([`${label}: ${clients} ${who} × (${names}), first start to last finish`, `${s.hpa.seconds.toFixed(1)} s`,
    `${s.gw.seconds.toFixed(1)} s`, (s.hpa.seconds / s.gw.seconds).toFixed(2), '>= 1.0 (tftpd-hpa time / gateway time)']);
  rows.push([`${label}: failed transfers (exit code or SHA-256)`, failed(s.hpa), failed(s.gw),
    verdict(s.hpa.failures.length === 0 && s.gw.failures.length === 0), '0']);
  rows.push([`${label}: canister chunk queries (cache empty, no prefetch)`, '-', `${s.queries} for ${files.distinct} distinct chunks`,
    verdict(s.queries === files.distinct), 'queries = distinct chunks']);
  for (const [who, r] of [['tftpd-hpa', s.hpa], ['gateway', s.gw]] as const) {
    for (const f of r.failures.slice(0, 5)) notes.push(`${label}, ${who}, client ${f.client}, ${f.path}: ${f.reason}`);
  }
}

try {
  const [files, lossyFiles] = await section('setup', async () => {
    await until(() => socketsOn(readFileSync('/proc/net/udp', 'utf8'), hpaPort).length > 0, 'in.tftpd bound to its port', 30_000, 100);
    if ((await icboot(['deploy'], env)).code !== 0) throw new Error('icboot deploy failed');
    const up = await icboot(['upload', tree], env);
    if (up.code !== 0) throw new Error(`icboot upload: ${up.stderr}`);
    const ls = await icboot(['ls', '--json'], env);
    if (ls.code !== 0) throw new Error(`icboot ls: ${ls.stderr}`);
    const chunkSize = (JSON.parse(ls.stdout.toString()) as { chunk_size: number }).chunk_size;
    return [await fileSet(FILES, chunkSize), await fileSet(LOSSY_FILES, chunkSize)];
  });

  await section('single transfers', async () => {
    const gw = await gateway();
    await single(curl(1468), gw.tftpPort, files); // Fills the cache.
    for (const [name, client, target] of [
      ['single: curl blksize 1468, lock-step', curl(1468), '>= 1.0 (gateway / tftpd-hpa throughput)'],
      ['single: curl blksize 512, lock-step', curl(512), '>= 1.0 (gateway / tftpd-hpa throughput)'],
      ['single: atftp blksize 1468 windowsize 16 (tftpd-hpa: lock-step)', atftpWindowed(1468, 16), 'information'],
    ] as const) {
      const h: number[] = [];
      const g: number[] = [];
      for (let i = 0; i < PAIRS; i++) {
        h.push(await single(client, hpaPort, files));
        g.push(await single(client, gw.tftpPort, files));
      }
      rows.push([name, mbs(total, median(h)), mbs(total, median(g)), (median(h) / median(g)).toFixed(2), target]);
    }
    await stop(gw);
  });

  await section('storm', async () => {
    const s = await storms(files, STORM_CLIENTS, 600_000);
    stormRows('storm', files, STORM_CLIENTS, s);
    const peak = Math.max(s.memory.hwm, s.memory.sampled);
    rows.push([`storm: gateway peak RSS`, '-', mb(peak), verdict(peak <= RSS_ALLOWANCE + s.budget), `<= ${mb(RSS_ALLOWANCE)} + ${mb(s.budget)} (cache-mem)`]);
    notes.unshift(`peak RSS of the gateway during the storm: ${mb(peak)} (VmHWM ${mb(s.memory.hwm)}, largest of ${s.memory.samples} VmRSS samples ${mb(s.memory.sampled)}), limit ${mb(RSS_ALLOWANCE + s.budget)}`,
      `canister chunk queries during the storm: ${s.queries}, distinct chunks of ${FILES.join(' and ')}: ${files.distinct}`);
  });

  await section(`storm with ${LOSS * 100}% loss`, async () => {
    const loss = new UdpLoss(LOSS);
    try {
      stormRows(`${LOSS * 100}% UDP loss`, lossyFiles, STORM_CLIENTS, await storms(lossyFiles, STORM_CLIENTS, 1_800_000));
      // No timeout option: each server retransmits on its own timeout (the gateway's adapts to the round trip).
      stormRows(`${LOSS * 100}% UDP loss`, lossyFiles, STORM_CLIENTS, await storms(lossyFiles, STORM_CLIENTS, 1_800_000, tftpHpa), 'tftp-hpa clients');
    } finally {
      loss.remove();
    }
  });
} finally {
  for (const gw of gateways) await gw.stop();
  await stopChild(hpa, 'SIGTERM');
  await devnet.stop();
  rmSync(devnet.stateDir, { recursive: true, force: true });
  rmSync(env.cwd, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
}
console.log(`TFTP on a namespace's loopback, files ${FILES.join(', ')} (${mb(total)}); single: median of ${PAIRS} alternating pairs`);
console.log(rows.map((r) => `| ${r.join(' | ')} |`).join('\n'));
for (const n of notes) console.log(n);
console.log(`sections: ${timings.join(', ')}`);

// `node --import tsx bench/dhcp.ts`: the DHCP codec on the fuzz corpus
// (gateway/dhcp/corpus.ts): what parseDhcp makes of each kind, how many
// inputs made it throw (must be 0), and packets parsed per second, for the
// corpus and for valid PXE DISCOVERs. Seeded, so every run parses the same
// bytes; only the rates vary with the machine. The outcome count streams the
// corpus; the rates use its first RATE_COUNT packets, held in memory so
// generating them is not timed.
//
// Then the proxyDHCP server under a flood (needs root and iproute2): the
// server alone (bench/dhcp_flood_server.ts) in a network namespace, a client
// in a second one on a veth pair (lab/dhcp_peer.ts) sending it
// FLOOD_ROUNDS rounds of FLOOD_ROUND corpus packets to port 67 (broadcast)
// and as many to 4011. Paced by the server's own reading: each batch of
// FLOOD_BATCH goes out only once the kernel says the server has read (or
// dropped) every datagram before it, so the server parses nearly all of them
// instead of the kernel dropping what overflows its socket buffer. After each
// round: the server's VmRSS, and its heap after a forced GC. Then a normal
// PXE client must still be answered on both ports.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CORPUS_KINDS, malformedPackets, pxeDiscover, type CorpusKind } from '../gateway/dhcp/corpus.ts';
import { BOOTREPLY, MSG, OPT, encodeDhcp, parseDhcp, parseSubOptions, type DhcpPacket } from '../gateway/dhcp/packet.ts';
import { REPO, tempDir } from '../lab/devnet.ts';
import { DhcpPeer } from '../lab/dhcp_peer_driver.ts';
import { Netns } from '../lab/netns.ts';
import { until } from '../lab/poll.ts';
import type { FloodServerStats } from './dhcp_flood_server.ts';
import { orExit } from './or_exit.ts';

const SEED = 1;
const COUNT = 100_000;
const RATE_COUNT = 22_000;
const ROUNDS = 5;

const outcomes = new Map<CorpusKind, Map<string, number>>();
let throws = 0;
let total = 0;
for (const { kind, bytes } of malformedPackets(SEED, COUNT)) {
  total += bytes.length;
  let key: string;
  try {
    const r = parseDhcp(bytes);
    key = r.ok ? 'ok' : r.problem;
  } catch {
    throws++;
    key = 'THREW';
  }
  const m = outcomes.get(kind) ?? new Map<string, number>();
  m.set(key, (m.get(key) ?? 0) + 1);
  outcomes.set(kind, m);
}

/** Median packets per second over ROUNDS passes of `packets`. */
function rate(packets: Buffer[]): number {
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now();
    for (const p of packets) parseDhcp(p);
    rates.push(packets.length / ((performance.now() - t) / 1000));
  }
  return rates.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)];
}

const discovers = Array.from({ length: RATE_COUNT }, (_, i) =>
  pxeDiscover({ mac: `52:54:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`, arch: [0, 7, 11][i % 3], ipxe: i % 2 === 0 }));

const table = (rows: string[][]): void => {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd());
};

console.log(`corpus: seed ${SEED}, ${COUNT} packets, ${(total / 1e6).toFixed(1)} MB\n`);
table([
  ['kind', 'expected', 'outcomes'],
  ...Object.entries(CORPUS_KINDS).map(([kind, expected]) => [
    kind, expected ?? 'any', [...(outcomes.get(kind as CorpusKind) ?? [])].map(([k, n]) => `${k} ${n}`).join(', '),
  ]),
]);
console.log(`\nthrew: ${throws} of ${COUNT}\n`);
const sample = [...malformedPackets(SEED, RATE_COUNT)].map((p) => p.bytes);
const sampleBytes = sample.reduce((n, b) => n + b.length, 0);
const corpusRate = rate(sample);
const discoverRate = rate(discovers);
table([
  ['input', 'packets/s (median of 5)', 'MB/s'],
  [`malformed corpus (first ${RATE_COUNT})`, corpusRate.toFixed(0), (corpusRate * sampleBytes / RATE_COUNT / 1e6).toFixed(0)],
  ['valid PXE DISCOVERs', discoverRate.toFixed(0), (discoverRate * discovers[0].length / 1e6).toFixed(0)],
]);
if (throws > 0) process.exit(1);

const SERVER_IP = '10.152.0.1';
const CLIENT_IP = '10.152.0.2';
const FLOOD_ROUNDS = 5;
/** Packets per round to each port. */
const FLOOD_ROUND = 10_000;
/**
 * Packets sent before waiting for the server to read them: a batch of corpus packets (about 9 of them up to
 * 64 KiB of option 43) fits the server's 1 MiB receive buffer, so the kernel has no reason to drop any.
 */
const FLOOD_BATCH = 100;
/** Corpus seeds of the flood: one per batch, none shared with the codec's. */
const FLOOD_SEED = 1000;
/** Generous: the machine may be loaded. */
const DEADLINE_MS = 60_000;

orExit(() => {
  if (process.getuid?.() !== 0) throw new Error('the proxyDHCP flood needs root (network namespaces, port 67): run bench/dhcp.ts as root');
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    throw new Error('the proxyDHCP flood needs ip: apt-get install iproute2');
  }
});

/** This bench's namespaces: icboot-dhcpF-PID (the server's) and icboot-dhcpF-PID-c (the client's). */
const NETNS_PREFIX = 'icboot-dhcpF';
/** The client's sockets (dhcp_peer.ts), by `via`: 0 a PXE client's, 1 any port. */
const PEER_SOCKETS = ['0.0.0.0:68', `${CLIENT_IP}:0`];

const work = tempDir('bench-dhcp');
const serverLog = join(work, 'server.log');

/** `/proc/PID/NAME` of the server, or an error that says where its output is once it has gone. */
function serverProc(pid: number, name: string): string {
  try {
    return readFileSync(`/proc/${pid}/${name}`, 'utf8');
  } catch {
    throw new Error(`the proxyDHCP server (PID ${pid}) has exited; its output is in ${serverLog}`);
  }
}

/** The kernel's UDP counters in `pid`'s network namespace (/proc/PID/net/snmp): only the server has UDP sockets there. */
function udpCounters(pid: number): Record<string, number> {
  const [names, values] = serverProc(pid, 'net/snmp').split('\n')
    .filter((l) => l.startsWith('Udp:')).map((l) => l.trim().split(/\s+/).slice(1));
  return Object.fromEntries(names.map((n, i) => [n, Number(values[i])]));
}
/** Datagrams the server has read, or the kernel dropped on their way to it (InErrors counts RcvbufErrors). */
const accounted = (pid: number): number => {
  const c = udpCounters(pid);
  return c.InDatagrams + c.InErrors;
};
const vmRss = (pid: number): number => Number(/VmRSS:\s*(\d+) kB/.exec(serverProc(pid, 'status'))?.[1]) * 1024;

/** What a normal client is offered on port 67, and acked on 4011, after the flood; '' when correct. */
function wrongAnswer(p: DhcpPacket, req: DhcpPacket, type: number): string {
  const checks: [boolean, string][] = [
    [p.op === BOOTREPLY && p.options.get(OPT.MESSAGE_TYPE)?.[0] === type, `message type ${p.options.get(OPT.MESSAGE_TYPE)?.[0]}`],
    [p.yiaddr === '0.0.0.0', `yiaddr ${p.yiaddr}`],
    [p.siaddr === SERVER_IP, `siaddr ${p.siaddr}`],
    [p.file === 'ipxe.efi', `file ${p.file}`],
    [p.chaddr.equals(req.chaddr), 'chaddr'],
    [p.options.get(OPT.VENDOR_CLASS)?.toString() === 'PXEClient', 'option 60'],
    [p.options.get(OPT.SERVER_ID)?.join('.') === SERVER_IP, 'option 54'],
    [parseSubOptions(p.options.get(OPT.VENDOR_SPECIFIC) ?? Buffer.alloc(0))?.get(6)?.[0] === 8, 'option 43'],
  ];
  return checks.filter(([ok]) => !ok).map(([, what]) => what).join(', ');
}

interface FloodRow { sent: number; read: number; dropped: number; stats: FloodServerStats; rss: number; seconds: number }

const serverNs = new Netns(false, '', NETNS_PREFIX);
const clientNs = new Netns(false, '-c', NETNS_PREFIX);
let peer: DhcpPeer | null = null;
const rows: FloodRow[] = [];
let verdict = '';
try {
  serverNs.create();
  clientNs.create();
  serverNs.ip('link', 'add', 's0', 'type', 'veth', 'peer', 'name', 'c0', 'netns', clientNs.name);
  serverNs.ip('addr', 'add', `${SERVER_IP}/24`, 'dev', 's0');
  serverNs.ip('link', 'set', 's0', 'up');
  clientNs.ip('addr', 'add', `${CLIENT_IP}/24`, 'dev', 'c0');
  clientNs.ip('link', 'set', 'c0', 'up');
  // A limited broadcast needs a route out.
  clientNs.ip('route', 'add', 'default', 'dev', 'c0');
  const server = serverNs.spawn(process.execPath, ['--expose-gc', '--import', 'tsx', join(REPO, 'bench', 'dhcp_flood_server.ts'), 's0'],
    serverLog, process.env, REPO);
  const log = (): string => readFileSync(serverLog, 'utf8');
  // `ip netns exec` execs node, so the child's PID is the server's.
  await until(() => {
    if (server.exitCode !== null) throw new Error(`the proxyDHCP server did not start; its output is in ${serverLog}`);
    return log().includes(`ready ${server.pid}\n`);
  }, 'the proxyDHCP server listening', DEADLINE_MS);
  const pid = server.pid!;
  peer = await DhcpPeer.start(clientNs, PEER_SOCKETS, DEADLINE_MS);

  /** Heap after a forced GC, and the server's counts, from the line it prints on SIGUSR2. */
  const serverStats = async (): Promise<FloodServerStats> => {
    const seen = log().split('\n').filter((l) => l.startsWith('stats ')).length;
    process.kill(pid, 'SIGUSR2');
    const line = await until(() => log().split('\n').filter((l) => l.startsWith('stats '))[seen], 'the server\'s stats line', DEADLINE_MS);
    return JSON.parse(line.slice('stats '.length)) as FloodServerStats;
  };
  const start = udpCounters(pid);
  rows.push({ sent: 0, read: 0, dropped: 0, rss: vmRss(pid), stats: await serverStats(), seconds: 0 });
  let seed = FLOOD_SEED;
  for (let round = 1; round <= FLOOD_ROUNDS; round++) {
    const t = performance.now();
    for (const [to, port] of [['255.255.255.255', 67], [SERVER_IP, 4011]] as const) {
      for (let sent = 0; sent < FLOOD_ROUND; sent += FLOOD_BATCH) {
        const target = accounted(pid) + FLOOD_BATCH;
        await peer.flood(1, to, port, seed++, FLOOD_BATCH);
        await until(() => accounted(pid) >= target, `the server reading batch ${seed - FLOOD_SEED} (port ${port})`, DEADLINE_MS, 1);
      }
    }
    const seconds = (performance.now() - t) / 1000;
    const c = udpCounters(pid);
    rows.push({ sent: 2 * FLOOD_ROUND * round, read: c.InDatagrams - start.InDatagrams, dropped: c.InErrors - start.InErrors, rss: vmRss(pid), stats: await serverStats(), seconds });
  }

  const discover = pxeDiscover({ mac: '52:54:00:f1:00:01', arch: 7, xid: 0xf10d0001 });
  peer.send({ via: 0, to: '255.255.255.255', port: 67, hex: discover.toString('hex') });
  const req = parseDhcp(discover);
  if (!req.ok) throw new Error('pxeDiscover made a packet parseDhcp rejects');
  const offer = await peer.next(0, (p) => p.xid === 0xf10d0001, 'the OFFER to a normal PXE client');
  // The REQUEST a PXE client sends to 4011 once it has its lease.
  const options = new Map([...req.packet.options, [OPT.MESSAGE_TYPE, Buffer.from([MSG.REQUEST])]]);
  const request: DhcpPacket = { ...req.packet, xid: 0xf10d0002, ciaddr: CLIENT_IP, flags: 0, options };
  peer.send({ via: 1, to: SERVER_IP, port: 4011, hex: encodeDhcp(request).toString('hex') });
  const ack = await peer.next(1, (p) => p.xid === 0xf10d0002, 'the ACK from port 4011 to a normal PXE client');
  const wrong = [wrongAnswer(offer, req.packet, MSG.OFFER), wrongAnswer(ack, req.packet, MSG.ACK)];
  verdict = wrong.every((w) => w === '') ? `yes: OFFER on 67 and ACK on 4011, ipxe.efi from ${SERVER_IP}, no address`
    : `NO: the OFFER has a wrong ${wrong[0] || '-'}; the ACK, ${wrong[1] || '-'}`;
} catch (e) {
  // The rows so far are still printed, and the server's output kept.
  verdict = `NO: ${(e as Error).message}`;
} finally {
  await peer?.stop();
  await clientNs.destroy();
  await serverNs.destroy();
}
if (verdict.startsWith('yes')) rmSync(work, { recursive: true, force: true });

const mib = (n: number): string => (n / 2 ** 20).toFixed(1);
console.log(`\nproxyDHCP server flood: ${FLOOD_ROUNDS} rounds of ${FLOOD_ROUND} corpus packets to port 67 (broadcast) and ${FLOOD_ROUND} to 4011, `
  + `${FLOOD_BATCH} at a time, each batch once the server had read the last\n`);
table([
  ['round', 'sent', 'read by server', 'dropped by kernel', 'answered', 'log lines', 'RSS (MiB)', 'RSS after GC (MiB)', 'heap after GC (MiB)', 'round (s)'],
  ...rows.map((r, i) => [i === 0 ? 'idle' : String(i), String(r.sent), String(r.read), String(r.dropped), String(r.stats.answers), String(r.stats.logLines),
    mib(r.rss), mib(r.stats.rss), mib(r.stats.heapUsed), r.seconds.toFixed(1)]),
]);
console.log(`\nnormal PXE client answered after the flood: ${verdict}`);
if (!verdict.startsWith('yes')) process.exit(1);

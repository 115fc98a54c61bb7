// `npm run bench` (HTTP part): the gateway's HTTP, its cache warm, against
// nginx serving the same Debian netboot tree from disk, same clients, one run,
// the two servers taking turns round by round:
//   - 20 curl processes each fetching initrd.gz at once (aggregate throughput, median of 3 rounds);
//   - 1,000 random 64 KiB ranges of initrd.gz and linux (one seeded list for both), over 1 and over 4
//     keep-alive connections, as a sanboot or UEFI HTTP boot reader asks (aggregate throughput, median of 3).
// Every body is checked against the file on disk. CPU seconds each server spent per case are printed under
// the table, which is what bounds a ratio on a loaded machine.
// ICBOOT_BENCH_QUICK=1: one round per case (a smoke run, not the benchmark).
// ICBOOT_BENCH_CPU_PROF=DIR: the gateway writes a V8 CPU profile (node --cpu-prof) to DIR when it stops.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { debianNetboot } from '../cli/sample.ts';
import { cliEnv, icboot } from '../lab/cli.ts';
import { freePort, startDevnetProcess, tempDir } from '../lab/devnet.ts';
import { run, startGateway } from '../lab/gateway.ts';
import { until } from '../lab/poll.ts';
import { stopChild } from '../lab/process.ts';
import { nginxConfig } from '../lab/nginx.ts';
import { median, mbs } from './figures.ts';
import { orExit } from './or_exit.ts';

const NGINX = '/usr/sbin/nginx';
const INITRD = 'debian-installer/amd64/initrd.gz';
const LINUX = 'debian-installer/amd64/linux';
const CLIENTS = 20;
const RANGES = 1000;
const RANGE_BYTES = 65536;
const ROUNDS = process.env.ICBOOT_BENCH_QUICK ? 1 : 3;

const tree = orExit(debianNetboot);
if (!existsSync(NGINX)) {
  console.error(`${NGINX} is missing: apt-get install nginx-light`);
  process.exit(1);
}
const disk = new Map([INITRD, LINUX].map((f) => [f, readFileSync(join(tree, f))]));
const initrdSha = createHash('sha256').update(disk.get(INITRD)!).digest('hex');

interface Server {
  name: string;
  url: string;
  pid: number;
}

/** CPU seconds in user space and in the kernel used so far by `pid` and its children alive now (nginx's workers). */
function cpuSeconds(pid: number): { user: number; system: number } {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  const sum = { user: 0, system: 0 };
  for (const p of [pid, ...children]) {
    // utime and stime, fields 14 and 15 of stat, counted here from the state field (3); in ticks of 1/100 s.
    const f = readFileSync(`/proc/${p}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    sum.user += Number(f[11]) / 100;
    sum.system += Number(f[12]) / 100;
  }
  return sum;
}

/** A measurement: seconds of wall time and of the server's CPU. */
interface Sample { wall: number; user: number; system: number }

async function measured(s: Server, work: () => Promise<void>): Promise<Sample> {
  const cpu = cpuSeconds(s.pid);
  const t = performance.now();
  await work();
  const wall = (performance.now() - t) / 1000;
  const after = cpuSeconds(s.pid);
  return { wall, user: after.user - cpu.user, system: after.system - cpu.system };
}

// curl's output goes to memory (tmpfs), so disk writeback does not time one server's round and not the other's.
const out = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'icboot-bench-http-'));

/** CLIENTS curl processes fetching initrd.gz at once; each body's SHA-256 is checked after the clock stops. */
async function concurrentCurls(s: Server): Promise<Sample> {
  const files = Array.from({ length: CLIENTS }, (_, i) => join(out, `c${i}`));
  const sample = await measured(s, async () => {
    await Promise.all(files.map(async (to) => {
      const r = await run('curl', ['-sS', '-o', to, `${s.url}/${INITRD}`], 600_000);
      if (r.code !== 0) throw new Error(`curl from ${s.name}: ${r.stderr}`);
    }));
  });
  for (const f of files) {
    const got = createHash('sha256').update(readFileSync(f)).digest('hex');
    if (got !== initrdSha) throw new Error(`${s.name}: a client's initrd.gz has SHA-256 ${got}, not ${initrdSha}`);
    rmSync(f);
  }
  return sample;
}

/** A seeded PRNG (mulberry32): the same ranges for both servers and every run. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** RANGES ranges of RANGE_BYTES, their offsets uniform over initrd.gz and linux together. */
function rangeList(): { file: string; start: number }[] {
  const random = prng(16);
  const spans = [...disk].map(([file, b]) => ({ file, n: b.length - RANGE_BYTES + 1 }));
  const total = spans.reduce((n, s) => n + s.n, 0);
  return Array.from({ length: RANGES }, () => {
    let at = Math.floor(random() * total);
    const span = spans.find((s) => (at < s.n ? true : ((at -= s.n), false)))!;
    return { file: span.file, start: at };
  });
}
const ranges = rangeList();

/** One keep-alive GET with a Range header; resolves with the status, Content-Range and body. */
function getRange(agent: Agent, url: string, start: number): Promise<{ status: number; contentRange: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers: { Range: `bytes=${start}-${start + RANGE_BYTES - 1}` } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentRange: String(res.headers['content-range']), body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The range list over `connections` keep-alive connections, each asking for the next range once its last arrived. */
async function rangeReads(s: Server, connections: number): Promise<Sample> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const bodies: Buffer[] = new Array(ranges.length);
  const statuses: string[] = new Array(ranges.length);
  let next = 0;
  try {
    const sample = await measured(s, async () => {
      await Promise.all(Array.from({ length: connections }, async () => {
        for (let i = next++; i < ranges.length; i = next++) {
          const r = await getRange(agent, `${s.url}/${ranges[i].file}`, ranges[i].start);
          bodies[i] = r.body;
          statuses[i] = `${r.status} ${r.contentRange}`;
        }
      }));
    });
    ranges.forEach(({ file, start }, i) => {
      const size = disk.get(file)!.length;
      const want = `206 bytes ${start}-${start + RANGE_BYTES - 1}/${size}`;
      if (statuses[i] !== want) throw new Error(`${s.name}: range ${i} of ${file} answered "${statuses[i]}", not "${want}"`);
      if (!bodies[i].equals(disk.get(file)!.subarray(start, start + RANGE_BYTES))) throw new Error(`${s.name}: range ${i} of ${file} has wrong bytes`);
    });
    return sample;
  } finally {
    agent.destroy();
  }
}

/** nginx (lab/nginx.ts) on a free loopback port, serving `root`; resolves once it answers. */
async function startNginx(root: string, dir: string): Promise<{ server: Server; stop: () => Promise<void> }> {
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConfig(dir, `127.0.0.1:${port}`, root));
  const child = spawn(NGINX, ['-c', conf, '-g', 'daemon off;'], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${url}/${LINUX}`, { method: 'HEAD' }).catch(() => null))?.ok, `nginx answering on ${url} (see ${dir}/error.log)`, 30_000, 100);
  return { server: { name: 'nginx', url, pid: child.pid! }, stop: () => stopChild(child, 'SIGTERM') };
}


const devnet = await startDevnetProcess();
const env = cliEnv(devnet.url);
const nginxDir = tempDir('bench-nginx');
const rows: string[][] = [['case', 'nginx', 'icboot gateway', 'ratio (gateway / nginx, throughput)', 'target']];
const cpuLines: string[] = [];
try {
  if ((await icboot(['deploy'], env)).code !== 0) throw new Error('deploy failed');
  const up = await icboot(['upload', tree], env);
  if (up.code !== 0) throw new Error(up.stderr);
  const prof = process.env.ICBOOT_BENCH_CPU_PROF;
  // node refuses --cpu-prof in NODE_OPTIONS: a shell puts it on node's command line, and execs, keeping the PID.
  const gw = await startGateway(env, [], prof ? ['sh', '-c', `exec "$0" --cpu-prof --cpu-prof-dir=${prof} "$@"`] : undefined);
  const nginx = await startNginx(tree, nginxDir);
  try {
    // Served warm, as nginx serves from a disk the page cache holds (reading the files to check bodies put them there).
    await until(() => gw.logs.some((l) => /cache: release \d+ warm/.test(l)), 'the gateway\'s cache warm', 300_000, 250);
    const gateway: Server = { name: 'gateway', url: gw.httpUrl.replace(/\/$/, ''), pid: gw.process.pid! };
    const cases: [string, number, (s: Server) => Promise<Sample>, number][] = [
      [`${CLIENTS} concurrent curls, initrd.gz (aggregate)`, CLIENTS * disk.get(INITRD)!.length, concurrentCurls, 1.0],
      [`${RANGES} random 64 KiB ranges, 1 keep-alive connection`, RANGES * RANGE_BYTES, (s) => rangeReads(s, 1), 0.8],
      [`${RANGES} random 64 KiB ranges, 4 keep-alive connections`, RANGES * RANGE_BYTES, (s) => rangeReads(s, 4), 0.8],
    ];
    for (const [name, bytes, client, target] of cases) {
      const n: Sample[] = [];
      const g: Sample[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        n.push(await client(nginx.server));
        g.push(await client(gateway));
      }
      const [nw, gwall] = [median(n.map((x) => x.wall)), median(g.map((x) => x.wall))];
      rows.push([name, mbs(bytes, nw), mbs(bytes, gwall), (nw / gwall).toFixed(2), `>= ${target.toFixed(1)}`]);
      const cpu = (xs: Sample[]): string => {
        const m = (k: keyof Sample): string => median(xs.map((x) => x[k])).toFixed(2);
        return `${m('user')} s user + ${m('system')} s system CPU in ${m('wall')} s`;
      };
      cpuLines.push(`${name}: nginx ${cpu(n)}, gateway ${cpu(g)}`);
    }
  } finally {
    await nginx.stop();
    await gw.stop();
  }
} finally {
  await devnet.stop();
  for (const d of [devnet.stateDir, env.cwd, nginxDir, out]) rmSync(d, { recursive: true, force: true });
}
console.log(`HTTP on loopback, the gateway's cache warm; median of ${ROUNDS} round(s), the servers taking turns`);
console.log(rows.map((r) => `| ${r.join(' | ')} |`).join('\n'));
console.log(cpuLines.join('\n'));

// `npm run bench` (gateway part): the gateway against tftpd-hpa serving the
// same Debian netboot tree from disk, same clients, same files, one run:
// curl at blksize 1468, atftp with windowsize 16, 20 concurrent curls, and a
// cold cache with 100 ms of injected canister latency.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { cliEnv, icboot } from '../lab/cli.ts';
import { freePort, startDevnetProcess, tempDir } from '../lab/devnet.ts';
import { run, startGateway } from '../lab/gateway.ts';
import { debianNetboot } from '../cli/sample.ts';
import { orExit } from './or_exit.ts';

const FILES = ['debian-installer/amd64/initrd.gz', 'debian-installer/amd64/linux'];
const IN_TFTPD = '/usr/sbin/in.tftpd';

const tree = orExit(debianNetboot);
if (!existsSync(IN_TFTPD)) {
  console.error(`${IN_TFTPD} is missing: apt-get install tftpd-hpa`);
  process.exit(1);
}
const sizeOf = (file: string): number => statSync(join(tree, file)).size;

type Client = (port: number, file: string, to: string) => [string, string[]];
const curl1468: Client = (port, file, to) => ['curl', ['-sS', '--tftp-blksize', '1468', '-o', to, `tftp://127.0.0.1:${port}/${file}`]];
const atftp16: Client = (port, file, to) => ['atftp', ['--option', 'blksize 1468', '--option', 'windowsize 16', '-g', '-r', file, '-l', to, '127.0.0.1', String(port)]];

const out = tempDir('bench-out');

/** Seconds to fetch FILES one after another with `client` (median of `rounds`: loopback timings have outliers). */
async function sequential(client: Client, port: number, rounds = 5): Promise<number> {
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    for (const f of FILES) {
      const [cmd, args] = client(port, f, join(out, 'x'));
      const res = await run(cmd, args);
      if (res.code !== 0) throw new Error(`${cmd} ${f}: ${res.stderr}`);
    }
    times.push((performance.now() - t) / 1000);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

/** Seconds for `n` clients fetching FILES[0] at once. */
async function concurrent(port: number, n: number): Promise<number> {
  const t = performance.now();
  await Promise.all(Array.from({ length: n }, async (_, i) => {
    const [cmd, args] = curl1468(port, FILES[0], join(out, `c${i}`));
    const res = await run(cmd, args, 600_000);
    if (res.code !== 0) throw new Error(`${cmd}: ${res.stderr}`);
  }));
  return (performance.now() - t) / 1000;
}

const devnetPort = await freePort();
let devnet = await startDevnetProcess(undefined, devnetPort);
const env = cliEnv(devnet.url);
const hpaPort = await freePort();
const hpa: ChildProcess = spawn(IN_TFTPD, ['-L', '-a', `127.0.0.1:${hpaPort}`, '-s', tree], { stdio: 'ignore' });
const rows: string[][] = [['case', 'tftpd-hpa', 'icboot gateway', 'ratio (gateway / tftpd-hpa)', 'target']];
const mbs = (bytes: number, s: number): string => `${(bytes / s / 1e6).toFixed(1)} MB/s`;
const total = FILES.reduce((n, f) => n + sizeOf(f), 0);
try {
  if ((await icboot(['deploy'], env)).code !== 0) throw new Error('deploy failed');
  const up = await icboot(['upload', tree], env);
  if (up.code !== 0) throw new Error(up.stderr);
  // All benchmark clients share 127.0.0.1: lift the per-client cap.
  const gwArgs = ['--max-per-client', '64'];
  let gw = await startGateway(env, gwArgs);
  await sequential(curl1468, gw.tftpPort, 1); // warm the cache

  for (const [name, client, target] of [['warm, curl blksize 1468', curl1468, '>= 1.0'], ['warm, atftp blksize 1468 windowsize 16', atftp16, '>= 1.0']] as const) {
    const h = await sequential(client, hpaPort);
    const g = await sequential(client, gw.tftpPort);
    rows.push([name, mbs(total, h), mbs(total, g), (h / g).toFixed(2), target]);
  }
  const n = 20;
  const h20 = await concurrent(hpaPort, n);
  const g20 = await concurrent(gw.tftpPort, n);
  const each = sizeOf(FILES[0]);
  rows.push([`warm, ${n} concurrent curls (aggregate)`, mbs(each * n, h20), mbs(each * n, g20), (h20 / g20).toFixed(2), '>= 1.0']);

  // Cold: a fresh gateway with an empty cache, the canister 100 ms away.
  await gw.stop();
  await devnet.stop();
  devnet = await startDevnetProcess(devnet.stateDir, devnetPort, ['--latency', '100']);
  gw = await startGateway(env, [...gwArgs, '--no-prefetch']);
  const hc = await sequential(curl1468, hpaPort, 1);
  const gc = await sequential(curl1468, gw.tftpPort, 1);
  rows.push(['cold, canister +100 ms, curl blksize 1468', mbs(total, hc), mbs(total, gc), (hc / gc).toFixed(2), '>= 0.8']);
  await gw.stop();
} finally {
  hpa.kill();
  await devnet.stop();
  rmSync(devnet.stateDir, { recursive: true, force: true });
  rmSync(env.cwd, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
}
console.log(`TFTP on loopback, files: ${FILES.join(', ')} (${(total / 1e6).toFixed(1)} MB); median of 5 warm runs`);
console.log(rows.map((r) => `| ${r.join(' | ')} |`).join('\n'));

// `npm run bench` (upload part): the 55 MB Debian 12 netboot tree uploaded to a
// fresh devnet, then uploaded again unchanged, for several chunk sizes side by
// side. Times are whole `icboot upload` commands, as a user waits for them.
import { rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { cliEnv, icboot } from '../lab/cli.ts';
import { startDevnetProcess } from '../lab/devnet.ts';
import { debianNetboot } from '../cli/sample.ts';
import { orExit } from './or_exit.ts';

const TARGET_FRESH_S = 10;
const TARGET_UNCHANGED_S = 2;
const CHUNK_SIZES = [512 * 1024, 1024 * 1024, 1_900_000];

const tree = orExit(debianNetboot);

async function timed(args: string[], env: ReturnType<typeof cliEnv>): Promise<{ seconds: number; summary: string }> {
  const t = performance.now();
  const r = await icboot(args, env);
  if (r.code !== 0) throw new Error(`icboot ${args.join(' ')} failed: ${r.stderr}`);
  return { seconds: (performance.now() - t) / 1000, summary: r.stdout.toString().split('\n')[0] };
}

const rows: string[][] = [['chunk size', 'fresh upload', 'vs 10 s target', 'unchanged re-upload', 'vs 2 s target', 'MB/s (fresh)']];
for (const chunk of CHUNK_SIZES) {
  const devnet = await startDevnetProcess();
  const env = cliEnv(devnet.url);
  try {
    const deployed = await icboot(['deploy'], env);
    if (deployed.code !== 0) throw new Error(deployed.stderr);
    const args = ['upload', tree, '--chunk-size', String(chunk)];
    const fresh = await timed(args, env);
    const again = await timed(args, env);
    const mb = Number(/([\d.]+) MiB,/.exec(fresh.summary)?.[1] ?? 0) * 1.048576;
    rows.push([
      String(chunk), `${fresh.seconds.toFixed(2)} s`, `${(fresh.seconds / TARGET_FRESH_S).toFixed(2)}x`,
      `${again.seconds.toFixed(2)} s`, `${(again.seconds / TARGET_UNCHANGED_S).toFixed(2)}x`, (mb / fresh.seconds).toFixed(1),
    ]);
    console.error(`chunk ${chunk}: ${fresh.summary} | ${again.summary}`);
  } finally {
    await devnet.stop();
    rmSync(devnet.stateDir, { recursive: true, force: true });
    rmSync(env.cwd, { recursive: true, force: true });
  }
}
console.log('Upload of the Debian 12 netboot tree (55 MB, 298 files) to the devnet, `icboot upload`, concurrency 4');
console.log(rows.map((r) => `| ${r.join(' | ')} |`).join('\n'));

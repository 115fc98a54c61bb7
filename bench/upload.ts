// `npm run bench` (upload part): the 55 MB Debian 12 netboot tree uploaded to a
// fresh devnet, then uploaded again unchanged, for several chunk sizes side by
// side, and for 1 MiB chunks also on a devnet without instruction metering,
// for what metering costs. Times are whole `icboot upload` commands, as a user
// waits for them.
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

/** The chunk size also run on a devnet without metering, for the cost of metering itself. */
const UNMETERED_CHUNK = 1024 * 1024;
/** Runs of each side for the metering comparison. */
const COMPARE_ROUNDS = 2;
/** Metered over unmetered fresh upload time (issue 14). */
const TARGET_METERING_RATIO = 1.5;

interface Run {
  fresh: number;
  again: number;
  mb: number;
}

/** Fresh and unchanged uploads to a new devnet started with `devnetArgs`. */
async function run(chunk: number, devnetArgs: string[]): Promise<Run> {
  const devnet = await startDevnetProcess(undefined, 0, devnetArgs);
  const env = cliEnv(devnet.url);
  try {
    const deployed = await icboot(['deploy'], env);
    if (deployed.code !== 0) throw new Error(deployed.stderr);
    const args = ['upload', tree, '--chunk-size', String(chunk)];
    const fresh = await timed(args, env);
    // --force: an identical tree would otherwise create no release at all; this measures finding nothing to send, then publishing.
    const again = await timed([...args, '--force'], env);
    console.error(`chunk ${chunk}${devnetArgs.length ? ` (${devnetArgs.join(' ')})` : ''}: ${fresh.summary} | ${again.summary}`);
    return { fresh: fresh.seconds, again: again.seconds, mb: Number(/([\d.]+) MiB,/.exec(fresh.summary)?.[1] ?? 0) * 1.048576 };
  } finally {
    await devnet.stop();
    rmSync(devnet.stateDir, { recursive: true, force: true });
    rmSync(env.cwd, { recursive: true, force: true });
  }
}

const rows: string[][] = [['chunk size', 'fresh upload', 'vs 10 s target', 'unchanged re-upload', 'vs 2 s target', 'MB/s (fresh)']];
const row = (label: string, r: Run): string[] => [
  label, `${r.fresh.toFixed(2)} s`, `${(r.fresh / TARGET_FRESH_S).toFixed(2)}x`,
  `${r.again.toFixed(2)} s`, `${(r.again / TARGET_UNCHANGED_S).toFixed(2)}x`, (r.mb / r.fresh).toFixed(1),
];
const meteredRuns: Run[] = [];
for (const chunk of CHUNK_SIZES) {
  const r = await run(chunk, []);
  if (chunk === UNMETERED_CHUNK) meteredRuns.push(r);
  rows.push(row(String(chunk), r));
}
// Load on a shared machine moves single runs a lot: compare the best runs of
// each side, in the order on, off, off, on, so neither side always runs later.
const unmeteredRuns: Run[] = [];
for (let round = 0; round < COMPARE_ROUNDS; round++) {
  unmeteredRuns.push(await run(UNMETERED_CHUNK, ['--no-metering']));
  if (round > 0) meteredRuns.push(await run(UNMETERED_CHUNK, []));
}
const best = (runs: Run[]): Run => runs.reduce((a, b) => (b.fresh < a.fresh ? b : a));
rows.push(row(`${UNMETERED_CHUNK}, devnet --no-metering`, best(unmeteredRuns)));
console.log('Upload of the Debian 12 netboot tree (55 MB, 298 files) to the devnet, `icboot upload`, concurrency 4');
console.log(rows.map((r) => `| ${r.join(' | ')} |`).join('\n'));
const times = (runs: Run[]): string => runs.map((r) => `${r.fresh.toFixed(2)} s`).join(', ');
const ratio = best(meteredRuns).fresh / best(unmeteredRuns).fresh;
console.log(`Metering on/off, ${UNMETERED_CHUNK}-byte chunks, best fresh upload of ${COMPARE_ROUNDS} each: on ${times(meteredRuns)}; off ${times(unmeteredRuns)}; ratio ${ratio.toFixed(2)}x (target ≤ ${TARGET_METERING_RATIO}x)`);

// What the CLI says about cycles, against a devnet process: the dry run's
// mainnet estimate and `icboot status`'s memory and burn lines.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { icbootCanister } from '../client/canister.ts';
import type { IcbootService } from '../common/icboot_idl.ts';
import { deployWithCli, icboot, newPem, type CliEnv } from '../lab/cli.ts';
import { startDevnetProcess, tempDir, type RunningDevnet } from '../lab/devnet.ts';

const UNITS: Record<string, number> = { T: 1e12, B: 1e9, M: 1e6, '': 1 };
const CYCLES = String.raw`(\d+(?:\.\d\d)?) ?([TBM]?) cycles`;
/** A `cycles()` amount back to a number, for comparing (two decimals are enough for that). */
const amount = (value: string, unit: string): number => Number(value) * UNITS[unit];

/** The table row `name  value`, or undefined. */
const row = (out: string, name: string): string | undefined =>
  out.split('\n').find((l) => l.startsWith(`${name}  `))?.slice(name.length).trim();

describe('cycles in the CLI', () => {
  let devnet: RunningDevnet;
  let env: CliEnv;
  let canister: IcbootService;
  let tree: string;

  before(async () => {
    devnet = await startDevnetProcess();
    const d = await deployWithCli(devnet.url);
    env = d.env;
    canister = icbootCanister(d.owner, d.canisterId);
    tree = tempDir('cost');
    writeFileSync(join(tree, 'big.img'), randomBytes(3 * 1024 * 1024 + 5));
    writeFileSync(join(tree, 'small.cfg'), 'default linux\n');
  });

  after(async () => {
    await devnet?.stop();
    for (const d of [devnet?.stateDir, env?.cwd, tree]) if (d) rmSync(d, { recursive: true, force: true });
  });

  /** A dry run's estimate lines, checked for shape; returns the total and the yearly storage. */
  async function dryRun(extra: string[]): Promise<{ subnet: string; total: number; perYear: number; stored: string }> {
    const r = await icboot(['upload', tree, '--dry-run', ...extra], env);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.toString().split('\n');
    assert.match(lines[0], /^2 files, .* 5 chunks \(5 new, 0 reused\), would send 3\.0 MiB in [\d.]+ s$/);
    const estimate = new RegExp(`^mainnet estimate, (\\d+)-node subnet: ingress ${CYCLES}, execution ${CYCLES}, total ${CYCLES}$`).exec(lines[1]);
    assert.ok(estimate, `estimate line: ${lines[1]}`);
    const [, subnet, ingress, ingressUnit, execution, executionUnit, total, totalUnit] = estimate;
    assert.ok(amount(ingress, ingressUnit) > 0 && amount(execution, executionUnit) > 0);
    // 3 MiB of chunks cost at least 2,000 cycles a byte to send.
    assert.ok(amount(total, totalUnit) > 2000 * 3 * 1024 * 1024, lines[1]);
    const storage = new RegExp(`^storing ([\\d.]+ [KM]iB) more: ${CYCLES} per year$`).exec(lines[2]);
    assert.ok(storage, `storage line: ${lines[2]}`);
    assert.equal(lines.length, 4, 'three lines and the final newline');
    return { subnet, total: amount(total, totalUnit), perYear: amount(storage[2], storage[3]), stored: storage[1] };
  }

  it('prices a dry run for mainnet and sends nothing', async () => {
    const before = await canister.status();
    const small = await dryRun([]);
    assert.equal(small.subnet, '13');
    assert.equal(small.stored, '3.0 MiB');
    const large = await dryRun(['--subnet-size', '34']);
    assert.equal(large.subnet, '34');
    // Every fee is 34/13 of the 13-node one (up to the rounding of the printed amounts).
    assert.ok(Math.abs(large.total / small.total - 34 / 13) < 0.01, `${large.total} vs ${small.total}`);
    assert.ok(Math.abs(large.perYear / small.perYear - 34 / 13) < 0.01, `${large.perYear} vs ${small.perYear}`);
    const now = await canister.status();
    assert.equal(now.chunks, before.chunks, 'no chunk was stored');
    assert.equal(now.releases, before.releases, 'no release was created');
  });

  it('refuses a subnet size it has no fees for', async () => {
    const r = await icboot(['upload', tree, '--dry-run', '--subnet-size', '28'], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--subnet-size/);
  });

  it('shows a controller the memory, burn and runway', async () => {
    const r = await icboot(['status'], env);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout.toString();
    assert.match(row(out, 'releases') ?? '', /^\d+$/);
    assert.match(row(out, 'memory') ?? '', /^[\d.]+ [KMG]iB$/);
    const burn = new RegExp(`^${CYCLES} per day$`).exec(row(out, 'idle burn') ?? '');
    assert.ok(burn && amount(burn[1], burn[2]) > 0, out);
    assert.match(row(out, 'freezing threshold') ?? '', new RegExp(`^${CYCLES}$`));
    assert.match(row(out, 'lasts idle') ?? '', /^[\d,]+ days until frozen$/);
    assert.doesNotMatch(out, /only a controller/);
  });

  it('tells a non-controller that memory and burn need a controller', async () => {
    const stranger = newPem();
    const r = await icboot(['status', '--pem', stranger.path], env);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout.toString();
    assert.match(row(out, 'releases') ?? '', /^\d+$/);
    assert.equal(row(out, 'memory'), undefined);
    assert.equal(out.trim().split('\n').pop(), `memory and burn: only a controller of the canister can read them (${stranger.principal} is not one)`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });
});

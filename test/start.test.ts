// `npm start` and the smaller commands around it, as a newcomer runs them.
import assert from 'node:assert/strict';
import { copyFileSync, realpathSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { missingSamplePackages } from '../cli/sample.ts';
import { chooseTree, qemuCommand } from '../cli/start_tree.ts';
import { cliEnv, icboot, type CliEnv } from '../lab/cli.ts';
import { REPO } from '../lab/devnet.ts';
import { run } from '../lab/gateway.ts';
import { run as runIn, startUntil, type Started } from '../lab/process.ts';
import { until } from '../lab/poll.ts';

const READY = [/Ctrl-C stops everything/];
const PORTS = [4943, 6969, 8080];
/** What this machine's packages make npm start serve (its choice is unit-tested in cli/start_tree.test.ts). */
const TREE = chooseTree(missingSamplePackages(), '.icboot', REPO);
/** Every line npm start logs (stderr) in text format. */
const TEXT_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S/;

/** Runs `npm start`'s program directly, from a fresh working directory (tsx resolved from the repository). */
function startDirect(env: CliEnv, args: string[] = [], ready = READY): Promise<Started> {
  return startUntil('cli/start.ts', ['--import', import.meta.resolve('tsx'), join(REPO, 'cli', 'start.ts'), ...args], ready,
    // The Debian sample is built and uploaded (about 130 MiB) on the first start.
    { cwd: env.cwd, env: env.env, timeoutMs: 240_000 });
}

/**
 * Runs `npm start` itself, so the signal goes to npm's PID, in a clone of the
 * repository's package.json whose cli/ and node_modules/ are the repository's.
 */
function startWithNpm(env: CliEnv): Promise<Started> {
  const npm = realpathSync(join(process.execPath, '..', 'npm'));
  return startUntil('npm start', [npm, 'start'], READY, {
    cwd: env.cwd, env: { ...env.env, npm_config_update_notifier: 'false', npm_config_fund: 'false' }, timeoutMs: 120_000,
  });
}

/** Whether `port` on 127.0.0.1 can be bound, i.e. nothing of a stopped start still holds it. */
function free(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer().once('error', () => resolve(false)).listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function allFree(): Promise<boolean> {
  return (await Promise.all(PORTS.map(free))).every(Boolean);
}

describe('npm start', () => {
  const env = cliEnv('local');
  copyFileSync(join(REPO, 'package.json'), join(env.cwd, 'package.json'));
  for (const dir of ['cli', 'node_modules']) symlinkSync(join(REPO, dir), join(env.cwd, dir));

  it(`serves ${TREE.label} over TFTP and HTTP, prints how to boot it, timestamps its log lines, and stops on SIGINT`, async () => {
    // The Debian sample prints the one QEMU command that boots it (booted by test/e2e/start_qemu.test.ts); the text tree, what would make it bootable.
    const printed = TREE.kind === 'debian' ? /^ {2}(qemu-system-x86_64 .*)$/m : /apt-get install (.*), then npm start again$/m;
    const first = await startDirect(env, [], [...READY, printed]);
    assert.equal(first.matches[1][1], TREE.kind === 'debian' ? qemuCommand(8080) : TREE.missing.join(' '));
    const tftp = await run('curl', ['-sS', 'tftp://127.0.0.1:6969/pxelinux.cfg/default']);
    assert.equal(tftp.code, 0, tftp.stderr);
    assert.match(tftp.stdout, /console=ttyS0,115200/);
    if (TREE.kind === 'debian') {
      assert.match(await (await fetch('http://127.0.0.1:8080/boot.ipxe')).text(), /^#!ipxe\n/);
    } else {
      assert.match(await (await fetch('http://127.0.0.1:8080/README.txt')).text(), /icboot sample TFTP tree/);
    }
    const ls = (await icboot(['ls', '--network', 'local'], env)).stdout.toString().trim().split('\n');
    if (TREE.kind === 'debian') for (const f of ['pxelinux.0', 'undionly.kpxe', 'debian-installer/amd64/linux']) assert.ok(ls.includes(f), f);
    else assert.deepEqual(ls, ['README.txt', 'pxelinux.cfg/default']);
    assert.match(first.logs.join('\n'), /uploaded as release 1/);
    assert.match(first.logs.join('\n'), /^\S+ created a new identity /m, 'the first start makes an identity, and says so as a notice, not an error');
    assert.deepEqual(first.logs.filter((l) => !TEXT_LINE.test(l)), [], 'lines without a timestamp');
    assert.equal(await first.stop('SIGINT'), 0);
    assert.ok(await allFree(), 'ports 4943, 6969 and 8080 are free again');
  });

  it('changes nothing when started again, logs JSON lines with --log-format json, and stops on SIGTERM', async () => {
    const second = await startDirect(env, ['--log-format', 'json']);
    const lines = second.logs.map((l) => JSON.parse(l) as { time: string; level: string; msg: string; release?: number });
    for (const l of lines) {
      assert.ok(!Number.isNaN(Date.parse(l.time)), l.time);
      assert.equal(l.level, 'info');
    }
    assert.ok(lines.some((l) => /up to date/.test(l.msg)));
    assert.ok(lines.some((l) => /unchanged: release 1 is current/.test(l.msg) && l.release === 1));
    assert.equal(await second.stop('SIGTERM'), 0);
    assert.ok(await allFree(), 'ports 4943, 6969 and 8080 are free again');
  });

  it('refuses an unknown --log-format with one line, before starting anything', async () => {
    const r = await runIn(process.execPath, ['--import', import.meta.resolve('tsx'), join(REPO, 'cli', 'start.ts'), '--log-format', 'xml'],
      { cwd: env.cwd, env: env.env, timeoutMs: 60_000 });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^\S+ icboot: --log-format is "xml": use text or json\n$/);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`started as \`npm start\`, stops on ${signal} sent to npm's PID`, async () => {
      const npm = await startWithNpm(env);
      assert.match(npm.logs.join('\n'), /unchanged: release 1 is current/);
      await npm.stop(signal);
      // npm exits once its script has; the service must have let go of every port by then.
      await until(allFree, 'ports 4943, 6969 and 8080 free after npm exited', 30_000);
    });
  }
});

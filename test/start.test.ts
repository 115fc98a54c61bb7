// `npm start` and the smaller commands around it, as a newcomer runs them.
import assert from 'node:assert/strict';
import { copyFileSync, realpathSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cliEnv, icboot, type CliEnv } from '../lab/cli.ts';
import { REPO } from '../lab/devnet.ts';
import { run } from '../lab/gateway.ts';
import { startUntil, type Started } from '../lab/process.ts';
import { until } from '../lab/poll.ts';

const READY = [/Ctrl-C stops everything/];
const PORTS = [4943, 6969, 8080];

/** Runs `npm start`'s program directly, from a fresh working directory (tsx resolved from the repository). */
function startDirect(env: CliEnv): Promise<Started> {
  return startUntil('cli/start.ts', ['--import', import.meta.resolve('tsx'), join(REPO, 'cli', 'start.ts')], READY,
    { cwd: env.cwd, env: env.env, timeoutMs: 120_000 });
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

  it('serves samples/tftp over TFTP and HTTP, and stops on SIGINT', async () => {
    const first = await startDirect(env);
    const tftp = await run('curl', ['-sS', 'tftp://127.0.0.1:6969/pxelinux.cfg/default']);
    assert.equal(tftp.code, 0, tftp.stderr);
    assert.match(tftp.stdout, /console=ttyS0,115200/);
    const http = await fetch('http://127.0.0.1:8080/README.txt');
    assert.match(await http.text(), /icboot sample TFTP tree/);
    const ls = await icboot(['ls', '--network', 'local'], env);
    assert.deepEqual(ls.stdout.toString().trim().split('\n'), ['README.txt', 'pxelinux.cfg/default']);
    assert.match(first.logs.join('\n'), /uploaded as release 1/);
    assert.equal(await first.stop('SIGINT'), 0);
    assert.ok(await allFree(), 'ports 4943, 6969 and 8080 are free again');
  });

  it('changes nothing when started again, and stops on SIGTERM', async () => {
    const second = await startDirect(env);
    assert.match(second.logs.join('\n'), /up to date/);
    assert.match(second.logs.join('\n'), /unchanged: release 1 is current/);
    assert.equal(await second.stop('SIGTERM'), 0);
    assert.ok(await allFree(), 'ports 4943, 6969 and 8080 are free again');
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

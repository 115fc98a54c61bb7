// `npm start` and the smaller commands around it, as a newcomer runs them.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cliEnv, icboot } from '../lab/cli.ts';
import { REPO } from '../lab/devnet.ts';
import { run } from '../lab/gateway.ts';
import { startUntil, type Started } from '../lab/process.ts';

/** Runs `npm start`'s script until it says it is running. */
function start(env: ReturnType<typeof cliEnv>): Promise<Started> {
  // As `npm start` runs it, but from a fresh working directory (tsx resolved from the repository).
  return startUntil('npm start', ['--import', import.meta.resolve('tsx'), join(REPO, 'cli', 'start.ts')],
    [/Ctrl-C stops everything/], { cwd: env.cwd, env: env.env, timeoutMs: 60_000 });
}

describe('npm start', () => {
  it('serves samples/tftp over TFTP and HTTP, idempotently, and stops on Ctrl-C', async () => {
    const env = cliEnv('local');
    const first = await start(env);
    const tftp = await run('curl', ['-sS', 'tftp://127.0.0.1:6969/pxelinux.cfg/default']);
    assert.equal(tftp.code, 0, tftp.stderr);
    assert.match(tftp.stdout, /console=ttyS0,115200/);
    const http = await fetch('http://127.0.0.1:8080/README.txt');
    assert.match(await http.text(), /icboot sample TFTP tree/);
    const ls = await icboot(['ls', '--network', 'local'], env);
    assert.deepEqual(ls.stdout.toString().trim().split('\n'), ['README.txt', 'pxelinux.cfg/default']);
    assert.match(first.logs.join('\n'), /uploaded as release 1/);
    assert.equal(await first.stop('SIGINT'), 0);
    const second = await start(env);
    assert.match(second.logs.join('\n'), /up to date/);
    assert.match(second.logs.join('\n'), /unchanged: release 1 is current/);
    assert.equal(await second.stop('SIGINT'), 0);
  });
});

// The QEMU command `npm start` prints, run as printed (headless, its serial
// console on stdout): a guest boots the Debian installer from npm start's
// gateway, to the installer's first screen. Needs the packages that make
// npm start's tree bootable, and qemu-system-x86 with ipxe-qemu (its ROM).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { missingSamplePackages } from '../../cli/sample.ts';
import { cliEnv } from '../../lab/cli.ts';
import { REPO } from '../../lab/devnet.ts';
import { until } from '../../lab/poll.ts';
import { startUntil, stopChild } from '../../lab/process.ts';
import { SELECT_A_LANGUAGE } from '../../lab/pxe.ts';

/** Software emulation on a loaded machine: generous. */
const BOOT_TIMEOUT_MS = 300_000;

describe('the guest npm start says how to boot', () => {
  it('boots the Debian installer to its language question', { timeout: BOOT_TIMEOUT_MS + 300_000 }, async () => {
    assert.deepEqual(missingSamplePackages(), [], 'packages npm start needs for a bootable tree');
    const env = cliEnv('local');
    const start = await startUntil('cli/start.ts', ['--import', import.meta.resolve('tsx'), join(REPO, 'cli', 'start.ts')],
      [/Ctrl-C stops everything/, /^ {2}(qemu-system-x86_64 .*)$/m], { cwd: env.cwd, env: env.env, timeoutMs: 240_000 });
    const [command, ...args] = start.matches[1][1].split(' ');
    const qemu = spawn(command, args, { cwd: env.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let serial = '';
    const read = (b: Buffer): void => {
      serial += b.toString('latin1');
    };
    qemu.stdout.on('data', read);
    qemu.stderr.on('data', read);
    try {
      await until(() => SELECT_A_LANGUAGE.pattern.test(serial) || qemu.exitCode !== null, 'the installer\'s first screen', BOOT_TIMEOUT_MS, 500);
      assert.match(serial, SELECT_A_LANGUAGE.pattern, `QEMU exited with ${qemu.exitCode}:\n${serial.slice(-2000)}`);
      // The way there: iPXE from the HTTP URL QEMU's DHCP named, then the gateway's own URLs on 127.0.0.1.
      assert.match(serial, /http:\/\/10\.0\.2\.2:8080\/boot\.ipxe\.\.\. ok/);
      assert.match(serial, /http:\/\/127\.0\.0\.1:8080\/debian-installer\/amd64\/initrd\.gz\.\.\.[^\n]* ok\r\n/);
    } finally {
      await stopChild(qemu, 'SIGKILL');
      assert.equal(await start.stop('SIGINT'), 0);
    }
  });
});

// What `icboot upload` accepts from a boot tree directory.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { UserError } from '../client/errors.ts';
import { walkTree } from './walk.ts';
import { tempDir } from '../lab/devnet.ts';

/** Fails unless walking `dir` is refused with a UserError whose message (what the user reads) matches `text`. */
function refused(dir: string, text: RegExp, name?: string): void {
  assert.throws(() => walkTree(dir), (e: unknown) => {
    assert.ok(e instanceof UserError, `${name ?? text}: not a UserError: ${String(e)}`);
    assert.match(e.message, text, name);
    return true;
  });
}

function tree(): string {
  const dir = tempDir('walk');
  mkdirSync(join(dir, 'debian-installer', 'amd64'), { recursive: true });
  writeFileSync(join(dir, 'debian-installer', 'amd64', 'pxelinux.0'), 'bootloader');
  return dir;
}

describe('boot tree walk', () => {
  it('follows symlinks inside the tree as the files they point to', () => {
    const dir = tree();
    symlinkSync('debian-installer/amd64/pxelinux.0', join(dir, 'pxelinux.0'));
    symlinkSync('debian-installer', join(dir, 'di'));
    assert.deepEqual(walkTree(dir).map((f) => [f.path, f.size]), [
      ['debian-installer/amd64/pxelinux.0', 10], ['di/amd64/pxelinux.0', 10], ['pxelinux.0', 10],
    ]);
  });

  it('refuses links that leave the tree, loops, broken links, sockets and FIFOs', async () => {
    const cases: [string, (dir: string) => void | Promise<void>, RegExp][] = [
      ['escape', (d) => symlinkSync('../../etc', join(d, 'etc')), /etc: symlink points outside the tree/],
      ['absolute', (d) => symlinkSync('/etc/hostname', join(d, 'host')), /host: symlink points outside the tree/],
      ['loop', (d) => symlinkSync('.', join(d, 'debian-installer', 'again')), /again: symlink loop/],
      ['self', (d) => symlinkSync('self', join(d, 'self')), /self: symlink loop/],
      ['broken', (d) => symlinkSync('nowhere', join(d, 'gone')), /gone: broken symlink/],
      ['fifo', (d) => { execFileSync('mkfifo', [join(d, 'pipe')]); }, /pipe: is a FIFO/],
      ['socket', (d) => new Promise<void>((resolve) => {
        const server = createServer().listen(join(d, 'sock'), () => { server.unref(); resolve(); });
      }), /sock: is a socket/],
    ];
    for (const [name, make, error] of cases) {
      const dir = tree();
      await make(dir);
      refused(dir, error, name);
    }
  });

  it('refuses names the canister would refuse', () => {
    const dir = tree();
    writeFileSync(join(dir, 'back\\slash'), 'x');
    refused(dir, /back\\slash: path contains a backslash \(use \/\)$/);
  });

  it('refuses a name that is not UTF-8, naming the file', () => {
    const dir = tree();
    writeFileSync(Buffer.concat([Buffer.from(join(dir, 'debian-installer') + '/caf'), Buffer.from([0xe9])]), 'x');
    assert.throws(() => walkTree(dir), (e: Error) => e instanceof UserError
      && e.message === `${join(dir, 'debian-installer')}/caf\\xe9: file name is not valid UTF-8; rename it (e.g. with convmv) and upload again`);
  });
});

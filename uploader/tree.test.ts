// The uploader's check of icboot/ on a real directory, before anything is sent.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadMachines, MachinesError } from '../common/machines/parse.ts';
import { tempDir } from '../lab/devnet.ts';
import { localTree } from './tree.ts';

const dirs: string[] = [];

function write(dir: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}

/** A boot directory whose profile names a kernel reached through a symlink, as Debian's tree links into debian-installer/. */
function bootDir(profile: object): string {
  const dir = tempDir('machines');
  dirs.push(dir);
  write(dir, {
    'debian-installer/amd64/linux': 'kernel',
    'icboot/profiles/debian.json': JSON.stringify(profile),
    'icboot/groups/default.json': JSON.stringify({ profile: 'debian' }),
  });
  symlinkSync('debian-installer/amd64/linux', join(dir, 'linux'));
  return dir;
}

describe('local boot tree', () => {
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('reads the walked files, symlinks included, so the profiles check passes', async () => {
    const tree = localTree(bootDir({ kernel: 'linux' }));
    assert.deepEqual([...tree.paths()].sort(), ['debian-installer/amd64/linux', 'icboot/groups/default.json', 'icboot/profiles/debian.json', 'linux']);
    assert.equal(Buffer.from(await tree.read('linux')).toString(), 'kernel');
    const m = await loadMachines(tree);
    assert.equal(m?.profiles.get('debian')?.kernel, 'linux');
  });

  it('refuses a profile naming a file the directory lacks', async () => {
    const tree = localTree(bootDir({ kernel: 'linux', initrd: ['debian-installer/amd64/initrd.gz'] }));
    await assert.rejects(loadMachines(tree), (e: unknown) => e instanceof MachinesError
      && e.file === 'icboot/profiles/debian.json' && e.field === 'initrd[0]');
  });

  it('finds nothing to check in a tree without icboot/', async () => {
    const dir = tempDir('plain');
    dirs.push(dir);
    write(dir, { 'pxelinux.cfg/default': 'DEFAULT linux' });
    assert.equal(await loadMachines(localTree(dir)), null);
  });
});

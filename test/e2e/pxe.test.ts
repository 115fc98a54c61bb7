// Real PXE firmware (QEMU, SeaBIOS + Debian's iPXE ROM) boots the Debian
// installer from the canister: dnsmasq gives DHCP only, `icboot gateway`
// serves TFTP on the bridge address, port 69, and the devnet holds the tree.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assembleDebianTree } from '../../cli/sample.ts';
import { tempDir } from '../../lab/devnet.ts';
import { PxeLab, seconds } from '../../lab/pxe.ts';

describe('PXE boot from the canister', () => {
  const lab = new PxeLab(tempDir('e2e'));
  const tree = join(lab.work, 'tree');

  before(async () => {
    PxeLab.checkTools();
    assembleDebianTree(tree);
    await lab.setup(tree);
  });

  after(async () => {
    await lab.destroy();
    if (!process.env.ICBOOT_KEEP_E2E) rmSync(lab.work, { recursive: true, force: true });
  });

  it('boots the Debian installer to "Select a language"', async () => {
    const log = await lab.gateway();
    const times = await lab.boot('gateway');
    console.log(`PXE boot through icboot gateway: ${seconds(times)}`);
    const transfers = readFileSync(log, 'utf8');
    assert.match(transfers, /tftp \S+ pxelinux\.0 .* ok/);
    assert.match(transfers, /tftp \S+ debian-installer\/amd64\/initrd\.gz 4\d+ bytes .* ok/);
  });
});

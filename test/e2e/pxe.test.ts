// Real firmware boots from the canister through the gateway, every way the
// sample tree supports: dnsmasq gives DHCP only (with icboot's dnsmasq
// options for the iPXE paths), the gateway serves TFTP (port 69) and HTTP
// (port 80) on the bridge address, and the devnet holds the release.
//   - SeaBIOS + iPXE ROM with pxelinux over TFTP (the plain path, as before);
//   - SeaBIOS + iPXE ROM → /boot.ipxe → HTTP, a machine with a group of its own (preseed);
//   - OVMF + iPXE's EFI ROM → HTTP, a second machine with another profile;
//   - OVMF's own PXE → TFTP ipxe.efi → HTTP, a machine without a group (the default);
//   - AAVMF on arm64 → TFTP GRUB → /grub → HTTP, to the kernel.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assembleDebianTree } from '../../cli/sample.ts';
import { tempDir } from '../../lab/devnet.ts';
import { PxeLab, growth, seconds } from '../../lab/pxe.ts';

/** The sample's per-MAC group (samples/debian/icboot/groups/build1.json). */
const MAC_SAMPLE = '52:54:00:1c:b0:01';
/** A group this test adds, with a profile of its own. */
const MAC_SECOND = '52:54:00:1c:b0:02';
/** No group: the default. */
const MAC_OTHER = '52:54:00:1c:b0:03';
const hyphens = (mac: string): string => mac.replaceAll(':', '-');
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('network boot from the canister through real firmware', () => {
  const lab = new PxeLab(tempDir('e2e'));
  const tree = join(lab.work, 'tree');
  let log = '';

  before(async () => {
    PxeLab.checkTools();
    assembleDebianTree(tree);
    // A second machine by MAC, with a profile the sample does not have: the installer's rescue mode.
    writeFileSync(join(tree, 'icboot/profiles/rescue-amd64.json'), JSON.stringify({
      kernel: 'debian-installer/amd64/linux', initrd: ['debian-installer/amd64/initrd.gz'], args: 'console=ttyS0,115200 rescue/enable=true ---',
    }));
    writeFileSync(join(tree, 'icboot/groups/second.json'), JSON.stringify({ profile: 'rescue-amd64', selector: { mac: MAC_SECOND } }));
    await lab.setup(tree);
    log = await lab.gateway();
  });

  after(async () => {
    await lab.destroy();
    if (!process.env.ICBOOT_KEEP_E2E) rmSync(lab.work, { recursive: true, force: true });
  });

  it('BIOS with pxelinux over TFTP boots the installer', async () => {
    const since = growth(log);
    const boot = await lab.boot('pxelinux', { firmware: 'bios', dhcp: 'pxelinux', mac: MAC_OTHER });
    console.log(`BIOS, pxelinux over TFTP: ${seconds(boot.times)}`);
    const transfers = since();
    assert.match(transfers, /tftp \S+ pxelinux\.0 .* ok/);
    assert.match(transfers, /tftp \S+ debian-installer\/amd64\/initrd\.gz 4\d+ bytes .* ok/);
    assert.match(boot.commandLine, /console=ttyS0,115200 priority=critical/);
  });

  it('BIOS iPXE goes to /boot.ipxe and boots its own group\'s profile over HTTP, which fetches its rendered preseed', async () => {
    const since = growth(log);
    const preseed = new RegExp(`http \\S+ GET /generic\\?template=preseed&mac=${escape(MAC_SAMPLE)} 200 `);
    const boot = await lab.boot('bios-ipxe', { firmware: 'bios', dhcp: 'ipxe', mac: MAC_SAMPLE, installer: { pattern: preseed, file: log } });
    console.log(`BIOS, iPXE over HTTP: ${seconds(boot.times)} (installer: its preseed fetched)`);
    const http = since();
    assert.match(http, /http \S+ GET \/boot\.ipxe 200 /);
    assert.match(http, new RegExp(`http \\S+ GET /ipxe\\?mac=${hyphens(MAC_SAMPLE)}&\\S*buildarch=i386&platform=pcbios\\S* 200 `));
    assert.match(http, /http \S+ GET debian-installer\/amd64\/linux 200 \d+ bytes .* ok/);
    assert.match(http, /http \S+ GET debian-installer\/amd64\/initrd\.gz 200 4\d+ bytes .* ok/);
    assert.doesNotMatch(http, /tftp \S+:\d+ /, 'iPXE in the ROM takes nothing over TFTP');
    assert.match(boot.commandLine, new RegExp(`auto=true priority=critical url=http://\\S+/generic\\?template=preseed&mac=${escape(MAC_SAMPLE)} `));
  });

  it('UEFI x86-64 with iPXE\'s EFI ROM boots over HTTP; a second MAC gets its own profile', async () => {
    const since = growth(log);
    const boot = await lab.boot('efi-ipxe', { firmware: 'efi-ipxe', dhcp: 'ipxe', mac: MAC_SECOND });
    console.log(`UEFI x86-64, iPXE EFI ROM, over HTTP: ${seconds(boot.times)}`);
    const http = since();
    assert.doesNotMatch(http, /tftp \S+:\d+ /, 'iPXE in the ROM takes nothing over TFTP');
    assert.match(http, new RegExp(`http \\S+ GET /ipxe\\?mac=${hyphens(MAC_SECOND)}&\\S*buildarch=x86_64&platform=efi\\S* 200 `));
    assert.match(http, /http \S+ GET debian-installer\/amd64\/initrd\.gz 200 4\d+ bytes .* ok/);
    assert.match(boot.commandLine, /rescue\/enable=true/);
  });

  it('UEFI x86-64 with the firmware\'s own PXE loads ipxe.efi over TFTP, then HTTP; a MAC without a group gets the default', async () => {
    const since = growth(log);
    const boot = await lab.boot('efi-pxe', { firmware: 'efi-pxe', dhcp: 'ipxe', mac: MAC_OTHER });
    console.log(`UEFI x86-64, firmware PXE, TFTP ipxe.efi, then HTTP: ${seconds(boot.times)}`);
    const got = since();
    // Once: iPXE, started, asks DHCP again as iPXE and is sent to HTTP instead of to itself.
    assert.equal(got.match(/tftp \S+ ipxe\.efi \d+ bytes .* ok/g)?.length, 1);
    assert.match(got, new RegExp(`http \\S+ GET /ipxe\\?mac=${hyphens(MAC_OTHER)}&\\S*buildarch=x86_64&platform=efi\\S* 200 `));
    assert.match(boot.commandLine, /console=ttyS0,115200 priority=critical ---/);
    assert.doesNotMatch(boot.commandLine, /rescue|preseed/);
  });

  it('arm64 UEFI loads GRUB over TFTP, which takes /grub and the kernel over HTTP', async () => {
    const since = growth(log);
    const boot = await lab.boot('arm64', { firmware: 'arm64', dhcp: 'ipxe', installer: null });
    console.log(`arm64 UEFI, GRUB over TFTP, then HTTP: ${seconds(boot.times)}`);
    const got = since();
    assert.match(got, /tftp \S+ debian-installer\/arm64\/grubaa64\.efi \d+ bytes .* ok/);
    assert.match(got, /http \S+ GET \/grub\?mac=\S+&buildarch=arm64&platform=efi 200 /);
    assert.match(got, /http \S+ GET debian-installer\/arm64\/linux 200 \d+ bytes .* ok/);
    assert.match(boot.commandLine, /\(http,[\d.]+\)\/debian-installer\/arm64\/linux console=ttyAMA0 priority=critical/);
  });
});

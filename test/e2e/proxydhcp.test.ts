// proxyDHCP with real firmware: dnsmasq in the namespace hands out addresses
// only (no boot file, no PXE options), as a LAN's DHCP server that icboot may
// not change, and the gateway's `--dhcp proxy` tells PXE clients what to
// boot. A plain DHCP client on the same LAN must hear nothing from icboot.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assembleDebianTree } from '../../cli/sample.ts';
import { MSG, OPT, type DhcpPacket } from '../../gateway/dhcp/packet.ts';
import { tempDir } from '../../lab/devnet.ts';
import { PxeLab, ROUTER_IP, growth, seconds } from '../../lab/pxe.ts';

const MAC_BIOS = '52:54:00:1c:b1:01';
const MAC_EFI = '52:54:00:1c:b1:02';
const MAC_PLAIN = '52:54:00:1c:b1:03';
const MAC_PXE_LIKE = '52:54:00:1c:b1:04';
const messageType = (p: DhcpPacket): number | undefined => p.options.get(OPT.MESSAGE_TYPE)?.[0];
/** Option 60: `PXEClient` on a proxyDHCP answer; '' when absent. */
const vendorClass = (p: DhcpPacket): string => p.options.get(OPT.VENDOR_CLASS)?.toString('latin1') ?? '';

describe('proxyDHCP beside a DHCP server that hands out addresses only', () => {
  const lab = new PxeLab(tempDir('e2e-proxy'));
  const tree = join(lab.work, 'tree');
  let log = '';

  before(async () => {
    PxeLab.checkTools();
    assembleDebianTree(tree);
    await lab.setup(tree);
    log = await lab.gateway('gateway', undefined, ['--dhcp', 'proxy', '--dhcp-interface', 'br0']);
  });

  after(async () => {
    await lab.destroy();
    if (!process.env.ICBOOT_KEEP_E2E) rmSync(lab.work, { recursive: true, force: true });
  });

  it('BIOS (SeaBIOS + iPXE ROM) is sent to /boot.ipxe and boots the installer over HTTP', async () => {
    const since = growth(log);
    const boot = await lab.boot('bios-proxy', { firmware: 'bios', dhcp: 'addresses', mac: MAC_BIOS });
    console.log(`BIOS through proxyDHCP: ${seconds(boot.times)}`);
    const got = since();
    assert.match(got, new RegExp(`dhcp ${MAC_BIOS} .*boot\\.ipxe`), 'the proxy answered the iPXE ROM with the /boot.ipxe URL');
    assert.match(got, /http \S+ GET \/boot\.ipxe 200 /);
    assert.match(got, /http \S+ GET debian-installer\/amd64\/initrd\.gz 200 4\d+ bytes .* ok/);
    assert.doesNotMatch(got, /tftp \S+:\d+ /, 'iPXE in the ROM takes nothing over TFTP');
  });

  it('UEFI x86-64 with the firmware\'s own PXE gets ipxe.efi over TFTP, then boots the installer over HTTP', async () => {
    const since = growth(log);
    const boot = await lab.boot('efi-proxy', { firmware: 'efi-pxe', dhcp: 'addresses', mac: MAC_EFI });
    console.log(`UEFI x86-64 (firmware PXE) through proxyDHCP: ${seconds(boot.times)}`);
    const got = since();
    assert.match(got, new RegExp(`dhcp ${MAC_EFI} .*ipxe\\.efi`), 'the proxy answered the firmware with ipxe.efi');
    assert.equal(got.match(/tftp \S+ ipxe\.efi \d+ bytes .* ok/g)?.length, 1, 'iPXE, started, is sent to HTTP and not to itself');
    assert.match(got, new RegExp(`dhcp ${MAC_EFI} .*boot\\.ipxe`), 'then iPXE got the /boot.ipxe URL');
    assert.match(got, /http \S+ GET debian-installer\/amd64\/initrd\.gz 200 4\d+ bytes .* ok/);
  });

  it('a plain DHCP client gets its lease from dnsmasq and no packet from icboot', async () => {
    const since = growth(log);
    const { output, packets } = await lab.plainDhcpClient(MAC_PLAIN);
    assert.match(output, new RegExp(`lease of 192\\.168\\.150\\.\\d+ obtained from ${ROUTER_IP.replaceAll('.', '\\.')}`));
    assert.ok(packets.some((p) => messageType(p) === MSG.OFFER && p.yiaddr.startsWith('192.168.150.')), 'dnsmasq offered an address');
    assert.deepEqual(packets.filter((p) => vendorClass(p) !== '' || p.yiaddr === '0.0.0.0'), [], 'no proxyDHCP answer (option 60, no address) reached it');
    // The same client calling itself a PXE client is answered: the capture would have seen an answer to the first.
    // (udhcpc knows nothing of PXE and may take the proxy's offer for a lease, then get none: its lease is not checked.)
    const pxe = await lab.plainDhcpClient(MAC_PXE_LIKE, { vendorClass: 'PXEClient:Arch:00000:UNDI:002001' });
    assert.ok(pxe.packets.some((p) => vendorClass(p) === 'PXEClient' && p.yiaddr === '0.0.0.0' && p.file === 'undionly.kpxe'),
      `a proxyDHCP offer reached the PXE-like client: ${pxe.packets.map((p) => `${p.yiaddr} ${vendorClass(p)} ${p.file}`).join('; ')}`);
    // Checked after: port 67's packets are handled in order, so by now anything for the first client is logged.
    assert.doesNotMatch(since(), new RegExp(`dhcp ${MAC_PLAIN} .*->`), 'icboot answered nothing for it');
  });
});

// Real PXE firmware (QEMU, SeaBIOS + Debian's iPXE ROM) boots the Debian
// installer from the canister: dnsmasq gives DHCP only (as libvirt's default
// network with <bootp file='pxelinux.0'/>), `icboot gateway` serves TFTP on
// the bridge address, port 69, and the devnet holds the tree.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assembleDebianTree } from '../../samples/debian.ts';
import { REPO, tempDir } from '../helpers/devnet.ts';
import { BRIDGE_IP, Netns } from './netns.ts';

const BOOT_TIMEOUT_MS = 300_000;
const ICBOOT = join(REPO, 'cli', 'icboot.js');

/** Milliseconds from `since` until `pattern` appears in `file`. */
async function waitFor(file: string, pattern: RegExp, since: number, deadline: number): Promise<number> {
  while (Date.now() < deadline) {
    if (existsSync(file) && pattern.test(readFileSync(file, 'latin1'))) return Date.now() - since;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${pattern} did not appear in ${file}`);
}

describe('PXE boot from the canister', () => {
  const ns = new Netns();
  const work = tempDir('e2e');
  const logs = (name: string): string => join(work, name);
  const env = {
    ...process.env,
    HOME: work,
    XDG_CONFIG_HOME: join(work, 'config'),
    DFX_CONFIG_ROOT: join(work, 'nodfx'),
    ICBOOT_NETWORK: 'http://127.0.0.1:4943',
  };

  before(async () => {
    for (const bin of ['/usr/bin/qemu-system-x86_64', '/usr/sbin/dnsmasq', '/usr/lib/ipxe/qemu/efi-e1000.rom']) {
      assert.ok(existsSync(bin), `${bin} is missing: apt-get install qemu-system-x86 ipxe-qemu dnsmasq-base`);
    }
    assembleDebianTree(join(work, 'tree'));
    ns.create();
    const devnet = ns.spawn(process.execPath, [ICBOOT, 'devnet', '--state-dir', join(work, 'devnet')], logs('devnet.log'), env, work);
    const deadline = Date.now() + 30_000;
    await waitFor(logs('devnet.log'), /devnet listening on/, Date.now(), deadline);
    assert.equal(devnet.exitCode, null);
    ns.run(process.execPath, [ICBOOT, 'deploy'], env, work);
    ns.run(process.execPath, [ICBOOT, 'upload', join(work, 'tree'), '--label', 'e2e'], env, work);
  });

  after(async () => {
    await ns.destroy();
    if (!process.env.ICBOOT_KEEP_E2E) rmSync(work, { recursive: true, force: true });
  });

  it('boots the Debian installer to "Select a language"', async () => {
    ns.spawn(process.execPath, [ICBOOT, 'gateway', '--tftp', `${BRIDGE_IP}:69`, '--cache-dir', join(work, 'cache')], logs('gateway.log'), env, work);
    await waitFor(logs('gateway.log'), /tftp listening on/, Date.now(), Date.now() + 30_000);
    ns.spawn('dnsmasq', [
      '--no-daemon', '--port=0', '--interface=br0', '--bind-interfaces', '--log-dhcp',
      '--dhcp-range=192.168.150.50,192.168.150.99,12h', `--dhcp-boot=pxelinux.0,,${BRIDGE_IP}`,
      `--dhcp-leasefile=${join(work, 'leases')}`,
    ], logs('dnsmasq.log'));
    const serial = logs('serial.log');
    const start = Date.now();
    ns.spawn('qemu-system-x86_64', [
      '-accel', 'tcg', '-m', '1024', '-nographic', '-no-reboot', '-monitor', 'none', '-display', 'none',
      '-serial', `file:${serial}`, '-boot', 'n',
      '-netdev', 'tap,id=n0,ifname=tap0,script=no,downscript=no', '-device', 'e1000,netdev=n0',
    ], logs('qemu.log'));
    const deadline = start + BOOT_TIMEOUT_MS;
    const dhcp = await waitFor(logs('dnsmasq.log'), /DHCPACK/, start, deadline);
    const kernel = await waitFor(serial, /Linux version/, start, deadline);
    const installer = await waitFor(serial, /Select a language/, start, deadline);
    console.log(`PXE boot: DHCP ${(dhcp / 1000).toFixed(1)} s, kernel ("Linux version") ${(kernel / 1000).toFixed(1)} s, installer ("Select a language") ${(installer / 1000).toFixed(1)} s`);
    const transfers = readFileSync(logs('gateway.log'), 'utf8');
    assert.match(transfers, /tftp \S+ pxelinux\.0 .* ok/);
    assert.match(transfers, /tftp \S+ debian-installer\/amd64\/initrd\.gz 4\d+ bytes .* ok/);
  });
});

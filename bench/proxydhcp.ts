// `npm run bench` (proxyDHCP part): the same two machines boot the Debian
// installer through the gateway twice each, in one run: once with dnsmasq
// supplying the boot information (icboot's dnsmasq lines, as
// `libvirt-network --ipxe` writes them), once with dnsmasq handing out
// addresses only and the gateway's `--dhcp proxy` supplying it. What the
// proxy costs is the difference.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { assembleDebianTree } from '../cli/sample.ts';
import { tempDir } from '../lab/devnet.ts';
import { PxeLab, seconds, type BootTimes, type DhcpBoot, type Firmware } from '../lab/pxe.ts';

PxeLab.checkTools();
const lab = new PxeLab(tempDir('bench-proxy'));
const tree = join(lab.work, 'tree');
const machines: [string, Firmware][] = [['BIOS (SeaBIOS + iPXE ROM)', 'bios'], ['UEFI x86-64 (OVMF, its own PXE)', 'efi-pxe']];
const results: { machine: string; dhcp: DhcpBoot; times: BootTimes }[] = [];
try {
  assembleDebianTree(tree);
  await lab.setup(tree);
  // One gateway for both ways: with dnsmasq's lines in place, a PXE client takes dnsmasq's boot file, and the
  // proxy's answer only races it; so the proxy runs only for the second pair of boots.
  await lab.gateway();
  for (const [machine, firmware] of machines) {
    results.push({ machine, dhcp: 'ipxe', times: (await lab.boot(`${firmware}-dnsmasq`, { firmware, dhcp: 'ipxe' })).times });
  }
  await lab.stopLast();
  await lab.gateway('gateway-proxy', undefined, ['--dhcp', 'proxy', '--dhcp-interface', 'br0']);
  for (const [machine, firmware] of machines) {
    results.push({ machine, dhcp: 'addresses', times: (await lab.boot(`${firmware}-proxy`, { firmware, dhcp: 'addresses' })).times });
  }
} finally {
  await lab.destroy();
  rmSync(lab.work, { recursive: true, force: true });
}
const s = (ms: number | undefined): string => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);
for (const r of results) console.log(`${r.machine}, ${r.dhcp === 'ipxe' ? 'dnsmasq supplies the boot file' : 'proxyDHCP supplies it'}: ${seconds(r.times)}`);
console.log('| machine | stage | dnsmasq supplies the boot file | proxyDHCP supplies it | ratio |');
console.log('|---|---|---|---|---|');
for (const [machine] of machines) {
  const d = results.find((r) => r.machine === machine && r.dhcp === 'ipxe')!.times;
  const p = results.find((r) => r.machine === machine && r.dhcp === 'addresses')!.times;
  for (const k of ['dhcp', 'kernel', 'installer'] as const) {
    console.log(`| ${machine} | ${k} | ${s(d[k])} | ${s(p[k])} | ${d[k] && p[k] ? `${(p[k]! / d[k]!).toFixed(2)}x` : '-'} |`);
  }
}

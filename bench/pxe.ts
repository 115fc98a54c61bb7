// `npm run bench` (PXE part): the same QEMU machine (SeaBIOS, Debian's iPXE
// ROM) boots the Debian installer three ways, in one run:
//   - tftpd-hpa serving the tree from disk, pxelinux over TFTP;
//   - nginx serving the tree from disk, iPXE over HTTP (a static script, the one the gateway renders for this machine);
//   - the gateway serving the release from the canister, iPXE over HTTP (/boot.ipxe, then /ipxe).
// Targets: the gateway reaches the kernel in at most 0.80x tftpd-hpa's time and 1.05x nginx's.
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assembleDebianTree } from '../cli/sample.ts';
import { httpUrl } from '../common/machines/firmware.ts';
import { loadMachines } from '../common/machines/parse.ts';
import { machineIpxe } from '../gateway/machines/endpoints.ts';
import { fileReader } from '../gateway/machines/index.ts';
import { localTree } from '../uploader/tree.ts';
import { tempDir } from '../lab/devnet.ts';
import { until } from '../lab/poll.ts';
import { BRIDGE_IP } from '../lab/netns.ts';
import { HTTP_PORT, PxeLab, seconds, type BootTimes } from '../lab/pxe.ts';

const MAC = '52:54:00:12:34:56';

/** nginx's root: the tree's files, and as boot.ipxe the script the gateway's /ipxe gives this machine. */
async function nginxRoot(tree: string, root: string): Promise<void> {
  const t = localTree(tree);
  const machines = await loadMachines(t);
  const { script } = await machineIpxe(machines!, fileReader(t), { mac: MAC, arch: 'bios' }, { http: httpUrl(BRIDGE_IP, HTTP_PORT), tftp: `${BRIDGE_IP}:69` });
  mkdirSync(root);
  symlinkSync(join(tree, 'debian-installer'), join(root, 'debian-installer'));
  writeFileSync(join(root, 'boot.ipxe'), script);
}

PxeLab.checkTools();
for (const bin of ['/usr/sbin/in.tftpd', '/usr/sbin/nginx']) {
  if (!existsSync(bin)) {
    console.error(`${bin} is missing: apt-get install tftpd-hpa nginx-light`);
    process.exit(1);
  }
}
const lab = new PxeLab(tempDir('bench-pxe'));
const tree = join(lab.work, 'tree');
const runs: [string, BootTimes][] = [];
try {
  assembleDebianTree(tree);
  await lab.setup(tree);
  await lab.tftpdHpa(tree);
  runs.push(['tftpd-hpa, pxelinux over TFTP', (await lab.boot('tftpd-hpa', { firmware: 'bios', dhcp: 'pxelinux', mac: MAC })).times]);
  await lab.stopLast();
  await nginxRoot(tree, join(lab.work, 'nginx-root'));
  await lab.nginx(join(lab.work, 'nginx-root'));
  runs.push(['nginx, iPXE over HTTP', (await lab.boot('nginx', { firmware: 'bios', dhcp: 'ipxe', mac: MAC })).times]);
  await lab.stopLast();
  const log = await lab.gateway();
  // Served warm, as the two peers serve from a disk the page cache holds.
  await until(() => /cache: release \d+ warm/.test(readFileSync(log, 'utf8')), 'the gateway\'s cache warm', 120_000, 250);
  runs.push(['icboot gateway, iPXE over HTTP', (await lab.boot('gateway', { firmware: 'bios', dhcp: 'ipxe', mac: MAC })).times]);
} finally {
  await lab.destroy();
  rmSync(lab.work, { recursive: true, force: true });
}
for (const [name, t] of runs) console.log(`${name}: ${seconds(t)}`);
const [[, hpa], [, ng], [, gw]] = runs;
const s = (ms: number | undefined): string => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);
const ratio = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined ? '-' : `${(a / b).toFixed(2)}x`);
console.log('| stage | tftpd-hpa (TFTP) | nginx (HTTP) | icboot gateway (HTTP) | gateway / tftpd-hpa | gateway / nginx |');
console.log('|---|---|---|---|---|---|');
for (const k of ['dhcp', 'kernel', 'installer'] as const) {
  console.log(`| ${k} | ${s(hpa[k])} | ${s(ng[k])} | ${s(gw[k])} | ${ratio(gw[k], hpa[k])} | ${ratio(gw[k], ng[k])} |`);
}
console.log(`kernel reached in ${ratio(gw.kernel, hpa.kernel)} tftpd-hpa's time (target <= 0.80x) and ${ratio(gw.kernel, ng.kernel)} nginx's (target <= 1.05x)`);

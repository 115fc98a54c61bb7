// `npm run bench` (PXE part): the same QEMU PXE boot of the Debian installer,
// once from tftpd-hpa serving the tree from disk and once from the gateway
// serving it from the canister, in one run. Target: the kernel is reached at
// most 1.05x as late through the gateway.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { assembleDebianTree } from '../cli/sample.ts';
import { tempDir } from '../lab/devnet.ts';
import { PxeLab, seconds, type BootTimes } from '../lab/pxe.ts';

PxeLab.checkTools();
const lab = new PxeLab(tempDir('bench-pxe'));
const tree = join(lab.work, 'tree');
let hpa: BootTimes;
let gw: BootTimes;
try {
  assembleDebianTree(tree);
  await lab.setup(tree);
  await lab.tftpdHpa(tree);
  hpa = await lab.boot('tftpd-hpa');
  await lab.stopLast();
  await lab.gateway();
  gw = await lab.boot('gateway');
} finally {
  await lab.destroy();
  rmSync(lab.work, { recursive: true, force: true });
}
console.log(`tftpd-hpa:      ${seconds(hpa)}`);
console.log(`icboot gateway: ${seconds(gw)}`);
console.log('| stage | tftpd-hpa | icboot gateway | ratio |');
console.log('|---|---|---|---|');
for (const k of ['dhcp', 'kernel', 'installer'] as const) {
  console.log(`| ${k} | ${(hpa[k] / 1000).toFixed(1)} s | ${(gw[k] / 1000).toFixed(1)} s | ${(gw[k] / hpa[k]).toFixed(2)} |`);
}
console.log(`kernel reached ${(gw.kernel / hpa.kernel).toFixed(2)}x as late through the gateway (target <= 1.05x)`);

// Assembles a bootable BIOS PXE tree from Debian's netboot package
// (debian-installer-12-netboot-amd64): the package's tree with symlinks
// resolved, and a pxelinux.cfg/default that boots the installer unattended on
// the serial console. Nothing is downloaded; binaries stay out of git.
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../client/errors.ts';

export const DEBIAN_NETBOOT = '/usr/lib/debian-installer/images/12/amd64/text';

/** The netboot tree at `source`, or a UserError saying which package provides it. */
export function debianNetboot(source = DEBIAN_NETBOOT): string {
  if (!existsSync(join(source, 'pxelinux.0'))) throw new UserError(`${source} is missing: apt-get install debian-installer-12-netboot-amd64`);
  return source;
}

/** Boots the installer with no menu; its first screen appears on ttyS0. */
const SERIAL_PXELINUX_CFG = `# Written by icboot sample debian: boot the Debian installer on the serial console.
serial 0 115200
default install
prompt 0
timeout 1
label install
  kernel debian-installer/amd64/linux
  append initrd=debian-installer/amd64/initrd.gz console=ttyS0,115200 priority=critical ---
`;

export function assembleDebianTree(dest: string, source = DEBIAN_NETBOOT): void {
  debianNetboot(source);
  if (existsSync(dest)) throw new UserError(`${dest} already exists; choose a new directory`);
  cpSync(source, dest, { recursive: true, dereference: true });
  mkdirSync(join(dest, 'pxelinux.cfg'), { recursive: true });
  writeFileSync(join(dest, 'pxelinux.cfg', 'default'), SERIAL_PXELINUX_CFG);
}

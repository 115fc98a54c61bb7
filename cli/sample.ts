// Assembles the Debian sample tree from installed Debian packages: the amd64
// netboot tree (pxelinux for BIOS), the arm64 installer with its GRUB, the
// iPXE chainloaders, and the overlay in samples/debian (pxelinux.cfg, GRUB
// configs that ask the gateway, and icboot/ profiles and groups). Symlinks are
// resolved. Nothing is downloaded; binaries stay out of git.
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../common/errors.ts';
import { CHAINLOADERS } from '../common/machines/firmware.ts';

export const DEBIAN_NETBOOT = '/usr/lib/debian-installer/images/12/amd64/text';
export const DEBIAN_NETBOOT_ARM64 = '/usr/lib/debian-installer/images/12/arm64/text';
const IPXE_DIR = '/usr/lib/ipxe';
/** iPXE builds copied to the tree's root: BIOS (UNDI), UEFI with all of iPXE's drivers, UEFI over the firmware's own network driver. */
const IPXE_FILES = [CHAINLOADERS.bios, CHAINLOADERS['efi-x86_64'], 'snponly.efi'];
const OVERLAY = join(dirname(fileURLToPath(import.meta.url)), '..', 'samples', 'debian');
/** Where Debian's GRUB netboot images look for their config over TFTP, whatever path they were loaded from. */
const GRUB_CFG = (arch: string): string => join('debian-installer', arch, 'grub', 'grub.cfg');

/** `file` must exist, or a UserError names the package that provides it. */
function need(file: string, pkg: string): void {
  if (!existsSync(file)) throw new UserError(`${file} is missing: apt-get install ${pkg}`);
}

export const AMD64 = { file: join(DEBIAN_NETBOOT, 'pxelinux.0'), pkg: 'debian-installer-12-netboot-amd64' };
/** Each package the tree is built from, by a file it installs. */
const SOURCES: readonly { file: string; pkg: string }[] = [
  AMD64,
  { file: join(DEBIAN_NETBOOT_ARM64, 'debian-installer', 'arm64', 'linux'), pkg: 'debian-installer-12-netboot-arm64' },
  ...IPXE_FILES.map((f) => ({ file: join(IPXE_DIR, f), pkg: 'ipxe' })),
];

/** The packages `assembleDebianTree` needs that are not installed (by whether `exists` finds their files), each once. */
export function missingSamplePackages(exists: (file: string) => boolean = existsSync): string[] {
  return [...new Set(SOURCES.filter((s) => !exists(s.file)).map((s) => s.pkg))];
}

/** The amd64 netboot tree, or a UserError saying which package provides it. */
export function debianNetboot(): string {
  need(AMD64.file, AMD64.pkg);
  return DEBIAN_NETBOOT;
}

/**
 * Writes the sample tree to `dest` (which must not exist). Every package is
 * checked before anything is written.
 */
export function assembleDebianTree(dest: string): void {
  for (const { file, pkg } of SOURCES) need(file, pkg);
  if (existsSync(dest)) throw new UserError(`${dest} already exists; choose a new directory`);
  cpSync(DEBIAN_NETBOOT, dest, { recursive: true, dereference: true });
  mkdirSync(join(dest, 'debian-installer'), { recursive: true });
  cpSync(join(DEBIAN_NETBOOT_ARM64, 'debian-installer', 'arm64'), join(dest, 'debian-installer', 'arm64'), { recursive: true, dereference: true });
  for (const f of IPXE_FILES) cpSync(join(IPXE_DIR, f), join(dest, f), { dereference: true });
  cpSync(OVERLAY, dest, { recursive: true });
  // One GRUB config serves both architectures: it names the machine's by GRUB's own variables.
  cpSync(join(dest, GRUB_CFG('amd64')), join(dest, GRUB_CFG('arm64')));
}

// What each kind of firmware is handed before it runs iPXE or GRUB: one table
// for every DHCP server icboot configures (libvirt's dnsmasq, the PXE lab's).
// Facts from RFC 4578 (option 93) and iPXE's own DHCP options.
import type { Arch } from './types.ts';

/**
 * DHCP option 93 (client system architecture, RFC 4578 and IANA's registry)
 * → arch. 7 is what x86-64 UEFI firmware sends (OVMF included); 9 is the
 * code RFC 4578 first listed for it, which some firmware still sends.
 */
export const CLIENT_ARCH_CODES: ReadonlyMap<number, Arch> = new Map([
  [0, 'bios'],
  [7, 'efi-x86_64'],
  [9, 'efi-x86_64'],
  [11, 'efi-arm64'],
]);

/**
 * Option 93 codes of UEFI HTTP Boot clients (IANA's processor architecture
 * registry): 16 x86-64, 19 arm64. Apart from CLIENT_ARCH_CODES, which also
 * writes dnsmasq's TFTP rules: these clients take only http:// URLs.
 */
export const HTTP_BOOT_ARCH_CODES: ReadonlyMap<number, Arch> = new Map([
  [16, 'efi-x86_64'],
  [19, 'efi-arm64'],
]);

/**
 * Tree path of the program a firmware's own PXE loads over TFTP, by arch.
 * BIOS and x86-64 UEFI get iPXE (Debian's `ipxe` package), which then asks
 * for /boot.ipxe over HTTP. There is no Debian iPXE for arm64, so arm64 gets
 * the Debian netboot tree's GRUB, whose grub.cfg asks for /grub over HTTP.
 * GRUB itself, not Debian's shim (bootnetaa64.efi): that shim asks for GRUB
 * at the TFTP root, not beside itself, and without Secure Boot adds nothing.
 * `icboot sample debian` puts all three there.
 */
export const CHAINLOADERS: Readonly<Record<Arch, string>> = {
  bios: 'undionly.kpxe',
  'efi-x86_64': 'ipxe.efi',
  'efi-arm64': 'debian-installer/arm64/grubaa64.efi',
};

/** iPXE sends DHCP option 175 (its encapsulated options) and user class "iPXE"; either marks a client that already runs iPXE. */
export const IPXE_OPTION = 175;
export const IPXE_USER_CLASS = 'iPXE';

/** The first script every iPXE client is sent to, on the gateway's HTTP server. */
export const BOOT_IPXE_PATH = '/boot.ipxe';

/** The gateway's HTTP base URL, port 80 left out as URLs write it (and as GRUB's `(http,HOST)` device needs it). */
export const httpUrl = (host: string, port: number): string => `http://${host}${port === 80 ? '' : `:${port}`}`;

/** Where iPXE clients are sent when no URL is given: the gateway's HTTP on port 80, the one port GRUB 2.06 also reaches. */
export const defaultIpxeUrl = (gatewayIp: string): string => `${httpUrl(gatewayIp, 80)}${BOOT_IPXE_PATH}`;

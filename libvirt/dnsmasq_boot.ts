// The dnsmasq settings that send each kind of PXE client where it should go:
// iPXE to the gateway's /boot.ipxe over HTTP, other firmware to the iPXE (or,
// on arm64, GRUB) chainloader for its architecture over TFTP. The same lines
// go into a libvirt network's <dnsmasq:options> and onto the PXE lab's
// dnsmasq command line, so what CI boots is what libvirt hands out.
import { CHAINLOADERS, CLIENT_ARCH_CODES, IPXE_OPTION, IPXE_USER_CLASS } from '../common/machines/firmware.ts';

/** Every tag these settings set starts with this, so icboot's lines are known by it (and only it). */
export const TAG_PREFIX = 'icboot-';
const IPXE_TAG = `${TAG_PREFIX}ipxe`;

/**
 * dnsmasq settings (config-file syntax; `--` + a line is the same on the
 * command line) for clients that are not plain BIOS PXE: BIOS is the
 * untagged default (`<bootp file='undionly.kpxe'>`, CHAINLOADERS.bios).
 * dnsmasq prefers a `dhcp-boot` whose tags all match over an untagged one,
 * and `tag:!icboot-ipxe` keeps iPXE from being handed iPXE again.
 */
export function ipxeBootOptions(server: string, bootIpxeUrl: string): string[] {
  const lines = [`dhcp-match=set:${IPXE_TAG},${IPXE_OPTION}`, `dhcp-userclass=set:${IPXE_TAG},${IPXE_USER_CLASS}`];
  for (const [code, arch] of CLIENT_ARCH_CODES) {
    if (arch !== 'bios') lines.push(`dhcp-match=set:${TAG_PREFIX}${arch},option:client-arch,${code}`);
  }
  for (const arch of new Set(CLIENT_ARCH_CODES.values())) {
    if (arch !== 'bios') lines.push(`dhcp-boot=tag:!${IPXE_TAG},tag:${TAG_PREFIX}${arch},${CHAINLOADERS[arch]},,${server}`);
  }
  lines.push(`dhcp-boot=tag:${IPXE_TAG},${bootIpxeUrl}`);
  return lines;
}

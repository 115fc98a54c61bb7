// `icboot libvirt-network`: a libvirt network whose dnsmasq gives DHCP with
// `bootp file=... server=...` and no <tftp> element, so that dnsmasq serves
// no TFTP and the gateway owns port 69 on the bridge address.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../client/errors.ts';

export interface LibvirtNetworkOptions {
  name: string;
  gatewayIp: string;
  bootfile: string;
}

const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/'/g, '&apos;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function networkXml(o: LibvirtNetworkOptions): string {
  const octets = o.gatewayIp.split('.').map(Number);
  if (octets.length !== 4 || octets.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) {
    throw new UserError(`--gateway-ip must be an IPv4 address, not "${o.gatewayIp}"`);
  }
  const net = octets.slice(0, 3).join('.');
  // The default network keeps libvirt's usual bridge name; others get one from libvirt.
  const bridge = o.name === 'default' ? "\n  <bridge name='virbr0' stp='on' delay='0'/>" : '';
  return `<network>
  <name>${escape(o.name)}</name>
  <forward mode='nat'/>${bridge}
  <ip address='${o.gatewayIp}' netmask='255.255.255.0'>
    <dhcp>
      <range start='${net}.2' end='${net}.254'/>
      <bootp file='${escape(o.bootfile)}' server='${o.gatewayIp}'/>
    </dhcp>
  </ip>
</network>
`;
}

/** Defines the network with virsh and restarts it so the new DHCP options apply. */
export function applyNetwork(o: LibvirtNetworkOptions, xml: string, log: (line: string) => void): void {
  const virsh = (...args: string[]): string => execFileSync('virsh', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    virsh('--version');
  } catch {
    throw new UserError('virsh not found: install libvirt-clients, or save the XML and run `virsh net-define FILE`');
  }
  const file = join(tmpdir(), `icboot-${o.name}-${process.pid}.xml`);
  writeFileSync(file, xml);
  virsh('net-define', file);
  log(`defined libvirt network ${o.name}`);
  try {
    virsh('net-destroy', o.name);
  } catch {
    // It was not running.
  }
  virsh('net-start', o.name);
  virsh('net-autostart', o.name);
  log(`started libvirt network ${o.name}; run the gateway with --tftp ${o.gatewayIp}:69`);
}

// Which interface the proxyDHCP serves, and its address: the one named, or the
// only candidate. The address is what PXE clients are told to fetch from.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { UserError } from '../../common/errors.ts';

export interface DhcpInterface {
  name: string;
  /** Its first IPv4 address. */
  address: string;
}

export type DhcpInterfaceProblem = 'unknown' | 'no-ipv4' | 'none' | 'ambiguous';

export class DhcpInterfaceError extends UserError {
  constructor(readonly problem: DhcpInterfaceProblem, message: string) {
    super(message);
  }
}

type Interfaces = ReturnType<typeof networkInterfaces>;

/**
 * Every interface and its IPv4 addresses, up or not. Node's list leaves out an interface without carrier, such
 * as a bridge no machine is plugged into yet (libvirt's virbr0 before its first guest), whose address is still
 * there to bind and serve from; `ip` lists it.
 */
export function allInterfaces(): Interfaces {
  let out: string;
  try {
    out = execFileSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' });
  } catch {
    return networkInterfaces();
  }
  const all: Interfaces = Object.fromEntries(readdirSync('/sys/class/net').map((n) => [n, []]));
  for (const m of out.matchAll(/^\d+:\s+(\S+)\s+inet\s+([\d.]+)\/(\d+)(?:.*?\sscope\s+(\S+))?/gm)) {
    const [, name, address, prefix, scope] = m;
    const info: NetworkInterfaceInfo = { family: 'IPv4', address, internal: scope === 'host', netmask: '', mac: '', cidr: `${address}/${prefix}` };
    (all[name] ??= []).push(info);
  }
  return all;
}

const ipv4 = (list: Interfaces[string]): string | undefined => list?.find((i) => i.family === 'IPv4')?.address;

/** `name`'s IPv4 address; without a name, the one interface that is not loopback and has an IPv4 address. */
export function dhcpInterface(name: string | undefined, interfaces: Interfaces = allInterfaces()): DhcpInterface {
  if (name !== undefined) {
    if (!(name in interfaces)) {
      throw new DhcpInterfaceError('unknown', `--dhcp-interface ${name}: no such interface (there are: ${Object.keys(interfaces).sort().join(', ')})`);
    }
    const address = ipv4(interfaces[name]);
    if (!address) throw new DhcpInterfaceError('no-ipv4', `--dhcp-interface ${name} has no IPv4 address; the proxyDHCP answers from it, so give it one`);
    return { name, address };
  }
  const candidates = Object.entries(interfaces)
    .filter(([, list]) => list?.some((i) => i.family === 'IPv4' && !i.internal))
    .map(([n, list]) => ({ name: n, address: ipv4(list)! }));
  if (candidates.length === 1) return candidates[0];
  if (candidates.length === 0) {
    throw new DhcpInterfaceError('none', '--dhcp proxy: no interface other than loopback has an IPv4 address; give the LAN interface one');
  }
  const listed = candidates.map((c) => `${c.name} (${c.address})`).join(', ');
  throw new DhcpInterfaceError('ambiguous', `--dhcp proxy: more than one interface has an IPv4 address, pick one with --dhcp-interface: ${listed}`);
}

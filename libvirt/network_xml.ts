// A libvirt network's XML, edited in place so that its dnsmasq sends PXE
// clients to the gateway: `<bootp file=... server=...>` in the IPv4 `<dhcp>`,
// and no `<tftp>` (which would make dnsmasq take port 69 on the bridge).
// Everything else (uuid, mac, forward, hosts, dns, namespaced dnsmasq
// options, comments) is kept as it was, because the edit is made on a DOM.
import { isIPv4 } from 'node:net';
import { DOMParser, ParseError, XMLSerializer, type Document, type Element, type Node } from '@xmldom/xmldom';
import { UserError } from '../common/errors.ts';
import { pathError } from '../common/path.ts';

export type NetworkXmlProblem = 'malformed' | 'not-a-network' | 'no-ip' | 'ipv6-only' | 'no-dhcp' | 'two-dhcp' | 'bad-address' | 'bad-bootfile';

/** The network XML cannot be edited as asked; nothing was changed. */
export class NetworkXmlError extends UserError {
  constructor(readonly problem: NetworkXmlProblem, message: string) {
    super(message);
  }
}

export interface BootTarget {
  /** Boot file DHCP hands out, e.g. pxelinux.0. */
  bootfile: string;
  /** Address PXE clients fetch it from; default: the address of the IPv4 `<ip>` that has `<dhcp>`. */
  gatewayIp?: string;
}

export interface NetworkEdit {
  /** The network as read, serialised the same way as `after`, so a diff shows only the edit. */
  before: string;
  after: string;
  changed: boolean;
  gatewayIp: string;
  /** One line per thing found that the edit changes or that the operator should know. */
  notes: string[];
}

const ELEMENT = 1;
const TEXT = 3;

function parse(xml: string, what: string): Document {
  if (/<!DOCTYPE/i.test(xml)) throw new NetworkXmlError('malformed', `${what}: a DOCTYPE is not allowed in libvirt network XML`);
  let doc: Document;
  try {
    doc = new DOMParser({
      onError: (level, message) => {
        // xmldom reports recoverable damage (e.g. an unknown entity) as 'error'; a network file has none.
        if (level !== 'warning') throw new NetworkXmlError('malformed', `${what} is not well-formed XML: ${message.split('\n')[0]}`);
      },
    }).parseFromString(xml, 'text/xml');
  } catch (e) {
    if (e instanceof NetworkXmlError) throw e;
    if (e instanceof ParseError) throw new NetworkXmlError('malformed', `${what} is not well-formed XML: ${e.message.split('\n')[0]}`);
    throw e;
  }
  if (doc.documentElement?.tagName !== 'network') {
    throw new NetworkXmlError('not-a-network', `${what}: the root element is <${doc.documentElement?.tagName ?? 'none'}>, not <network>`);
  }
  return doc;
}

const children = (e: Element, tag: string): Element[] =>
  Array.from(e.childNodes).filter((n): n is Element => n.nodeType === ELEMENT && (n as Element).tagName === tag);

const isIPv4Ip = (ip: Element): boolean => (ip.getAttribute('family') ?? 'ipv4') === 'ipv4';

/** `<tag a='1' b='2'/>`, as an operator would write it, for messages. */
function show(e: Element): string {
  const attrs = Array.from(e.attributes).map((a) => ` ${a.name}='${a.value}'`).join('');
  return `<${e.tagName}${attrs}/>`;
}

const nameOf = (network: Element): string | null => children(network, 'name')[0]?.textContent?.trim() ?? null;

/** The network's name, for messages and checks. */
export function networkName(xml: string): string {
  return nameOf(parse(xml, 'network XML').documentElement!) ?? '';
}

/** icboot's part of a network: every `<tftp>` of its addresses and every `<bootp>` of their DHCP. */
const bootElements = (network: Element): Element[] =>
  children(network, 'ip').flatMap((ip) => [...children(ip, 'tftp'), ...children(ip, 'dhcp').flatMap((d) => children(d, 'bootp'))]);

/** The network's uuid, or null when libvirt has not given it one yet. */
export function networkUuid(xml: string): string | null {
  const doc = parse(xml, 'network XML');
  return children(doc.documentElement!, 'uuid')[0]?.textContent?.trim() ?? null;
}

/** The IPv4 `<ip>` whose `<dhcp>` answers PXE clients; the errors say what was found instead. */
function dhcpIp(network: Element, name: string): { ip: Element; dhcp: Element } {
  const ips = children(network, 'ip');
  const fix = `add one with \`virsh net-edit ${name}\`, e.g. <ip address='192.168.122.1' netmask='255.255.255.0'><dhcp><range start='192.168.122.2' end='192.168.122.254'/></dhcp></ip>`;
  if (ips.length === 0) {
    throw new NetworkXmlError('no-ip', `network ${name} has no <ip> element, so libvirt runs no DHCP on it and icboot has no <dhcp> to add <bootp> to; ${fix}`);
  }
  const v4 = ips.filter(isIPv4Ip);
  if (v4.length === 0) {
    throw new NetworkXmlError('ipv6-only', `network ${name} has only IPv6 addresses (${ips.map((i) => i.getAttribute('address')).join(', ')}); `
      + `PXE's <bootp> exists only for IPv4 DHCP; ${fix}`);
  }
  const withDhcp = v4.filter((ip) => children(ip, 'dhcp').length > 0);
  if (withDhcp.length === 0) {
    throw new NetworkXmlError('no-dhcp', `network ${name} has no IPv4 DHCP range (its IPv4 address ${v4.map((i) => i.getAttribute('address')).join(', ')} has no <dhcp>), `
      + `so no PXE client would get an address or a boot file; add <dhcp><range start=... end=.../></dhcp> inside its <ip> with \`virsh net-edit ${name}\``);
  }
  if (withDhcp.length > 1 || children(withDhcp[0], 'dhcp').length > 1) {
    throw new NetworkXmlError('two-dhcp', `network ${name} has DHCP on more than one IPv4 address (${withDhcp.map((i) => i.getAttribute('address')).join(', ')}); `
      + `libvirt allows one, and icboot would not know which <dhcp> gets <bootp>; keep one with \`virsh net-edit ${name}\``);
  }
  const ip = withDhcp[0];
  const dhcp = children(ip, 'dhcp')[0];
  if (children(dhcp, 'range').length === 0 && children(dhcp, 'host').length === 0) {
    throw new NetworkXmlError('no-dhcp', `network ${name}: the <dhcp> of ${ip.getAttribute('address')} has no <range> and no <host>, so it gives no addresses; `
      + `add <range start=... end=.../> with \`virsh net-edit ${name}\``);
  }
  return { ip, dhcp };
}

/** Inserts `child` as the last element of `parent`, indented like its siblings. */
function appendIndented(parent: Element, child: Element): void {
  const doc = parent.ownerDocument!;
  const last = Array.from(parent.childNodes).filter((n) => n.nodeType === ELEMENT).pop();
  const before = last?.previousSibling;
  const indent = before && before.nodeType === TEXT && /^\s+$/.test(before.nodeValue ?? '') ? before.nodeValue! : '\n';
  if (last) {
    parent.insertBefore(doc.createTextNode(indent), last.nextSibling);
    parent.insertBefore(child, last.nextSibling!.nextSibling);
  } else {
    parent.appendChild(child);
  }
}

/** Removes `e` and the indentation in front of it. */
function removeIndented(e: Element): void {
  const before = e.previousSibling;
  if (before && before.nodeType === TEXT && /^\s+$/.test(before.nodeValue ?? '')) e.parentNode!.removeChild(before);
  e.parentNode!.removeChild(e);
}

/** BOOTP's `file` field holds 128 bytes with the terminating NUL; PXE ROMs read the name from there. */
const MAX_BOOTFILE_BYTES = 127;

/** A boot file is a path in the boot tree (as TFTP asks for it), or an http(s) URL for iPXE. */
function checkBootfile(file: string): void {
  const problem = /^https?:\/\//.test(file) ? (URL.canParse(file) ? null : 'not a valid URL')
    : pathError(file);
  const why = problem ?? (Buffer.byteLength(file) > MAX_BOOTFILE_BYTES ? `longer than ${MAX_BOOTFILE_BYTES} bytes, the room BOOTP has for it`
    : /[^\x21-\x7e]/.test(file) ? 'it has a space or a character outside printable ASCII' : null);
  if (why) throw new NetworkXmlError('bad-bootfile', `--bootfile "${file}": ${why}`);
}

/** Edits a network's XML (as `virsh net-dumpxml --inactive` gives it) to boot PXE clients from the gateway. */
export function editNetwork(xml: string, target: BootTarget): NetworkEdit {
  checkBootfile(target.bootfile);
  const doc = parse(xml, 'network XML');
  const serializer = new XMLSerializer();
  const before = serializer.serializeToString(doc);
  const network = doc.documentElement!;
  const name = nameOf(network) ?? '(unnamed)';
  const { ip, dhcp } = dhcpIp(network, name);
  const address = ip.getAttribute('address') ?? '';
  if (!isIPv4(address)) throw new NetworkXmlError('bad-address', `network ${name}: its IPv4 <ip> has address "${address}", not an IPv4 address`);
  const gatewayIp = target.gatewayIp ?? address;
  if (!isIPv4(gatewayIp)) throw new NetworkXmlError('bad-address', `--gateway-ip must be an IPv4 address, not "${gatewayIp}"`);
  const notes: string[] = [];

  const ranges = children(dhcp, 'range');
  if (ranges.length > 1) {
    notes.push(`network ${name} has ${ranges.length} DHCP ranges on ${address} (${ranges.map((r) => `${r.getAttribute('start')}-${r.getAttribute('end')}`).join(', ')}); `
      + 'clients from every range get the same boot file');
  }
  if (gatewayIp !== address) notes.push(`PXE clients will fetch ${target.bootfile} from ${gatewayIp}, not from the bridge address ${address}`);

  for (const tftp of children(network, 'ip').flatMap((i) => children(i, 'tftp'))) {
    notes.push(`found ${show(tftp)} on ${tftp.parentNode && (tftp.parentNode as Element).getAttribute('address')}: libvirt's dnsmasq would serve TFTP on port 69 there, `
      + 'in the gateway\'s place; icboot removes it');
    removeIndented(tftp);
  }

  const bootps = children(dhcp, 'bootp');
  for (const extra of bootps.slice(1)) removeIndented(extra);
  const bootp = bootps[0] ?? doc.createElement('bootp');
  const was = bootps[0] ? show(bootps[0]) : null;
  bootp.setAttribute('file', target.bootfile);
  bootp.setAttribute('server', gatewayIp);
  if (!bootps[0]) appendIndented(dhcp, bootp);
  else if (was !== show(bootp)) notes.push(`found ${was} on ${address}: icboot replaces it with ${show(bootp)}`);

  const after = serializer.serializeToString(doc);
  return { before, after, changed: canonical(before) !== canonical(after), gatewayIp, notes };
}

/** A new network like libvirt's stock `default` (NAT, one /24), booting PXE clients from the gateway. */
export function newNetwork(name: string, gatewayIp: string, bootfile: string): string {
  checkBootfile(bootfile);
  const octets = gatewayIp.split('.');
  if (!isIPv4(gatewayIp) || octets[3] !== '1') {
    throw new NetworkXmlError('bad-address', `--gateway-ip for a new network must be an IPv4 address ending in .1 (the bridge's own address, e.g. 192.168.123.1), not "${gatewayIp}"`);
  }
  const net = octets.slice(0, 3).join('.');
  return `<network>
  <name>${escape(name)}</name>
  <forward mode='nat'/>
  <ip address='${gatewayIp}' netmask='255.255.255.0'>
    <dhcp>
      <range start='${net}.2' end='${net}.254'/>
      <bootp file='${escape(bootfile)}' server='${gatewayIp}'/>
    </dhcp>
  </ip>
</network>
`;
}

const escape = (v: string): string => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;');

/**
 * A form of the network that two XML texts share when libvirt would read them
 * as the same: attribute order, quoting, indentation and comments aside.
 */
export function canonical(xml: string): string {
  return canonicalNode(parse(xml, 'network XML').documentElement!);
}

function canonicalNode(n: Node): string {
  if (n.nodeType === TEXT) return (n.nodeValue ?? '').trim() ? JSON.stringify((n.nodeValue ?? '').trim()) : '';
  if (n.nodeType !== ELEMENT) return '';
  const e = n as Element;
  const attrs = Array.from(e.attributes).map((a) => `${a.name}=${JSON.stringify(a.value)}`).sort().join(' ');
  return `<${e.tagName} ${attrs}>${Array.from(e.childNodes).map(canonicalNode).join('')}</>`;
}

/** Guests attached to a running network, as its live XML counts them (`<network connections='N'>`). */
export function networkConnections(xml: string): number {
  return Number(parse(xml, 'network XML').documentElement!.getAttribute('connections') ?? 0) || 0;
}

/** Only icboot's part of the network (`<bootp>` and `<tftp>`), canonical: whether a running network already has the edit. */
export function bootSettings(xml: string): string {
  return bootElements(parse(xml, 'network XML').documentElement!).map(canonicalNode).join('');
}

/** The network without icboot's part (`<bootp>` and `<tftp>`), to tell whether anything else changed. */
export function withoutBootSettings(xml: string): string {
  const network = parse(xml, 'network XML').documentElement!;
  for (const e of bootElements(network)) removeIndented(e);
  return canonicalNode(network);
}

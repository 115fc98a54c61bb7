// A libvirt network's XML, edited in place so that its dnsmasq sends PXE
// clients to the gateway: `<bootp file=... server=...>` in the IPv4 `<dhcp>`,
// no `<tftp>` (which would make dnsmasq take port 69 on the bridge) and, for
// iPXE, icboot's lines in `<dnsmasq:options>`. Everything else (uuid, mac,
// forward, hosts, dns, the user's own dnsmasq options, comments) is kept as it
// was, because the edit is made on a DOM.
import { isIPv4 } from 'node:net';
import { DOMParser, ParseError, XMLSerializer, type Document, type Element, type Node } from '@xmldom/xmldom';
import { UserError } from '../common/errors.ts';
import { CHAINLOADERS, defaultIpxeUrl } from '../common/machines/firmware.ts';
import { pathError } from '../common/path.ts';
import { TAG_PREFIX, ipxeBootOptions } from './dnsmasq_boot.ts';

export type NetworkXmlProblem = 'malformed' | 'not-a-network' | 'no-ip' | 'ipv6-only' | 'no-dhcp' | 'two-dhcp' | 'bad-address' | 'bad-bootfile' | 'bad-ipxe-url';

/** The network XML cannot be edited as asked; nothing was changed. */
export class NetworkXmlError extends UserError {
  constructor(readonly problem: NetworkXmlProblem, message: string) {
    super(message);
  }
}

export interface BootTarget {
  /** Boot file DHCP hands plain BIOS PXE clients; default: pxelinux.0, or iPXE's BIOS chainloader with `ipxe`. */
  bootfile?: string;
  /** Address PXE clients fetch it from; default: the address of the IPv4 `<ip>` that has `<dhcp>`. */
  gatewayIp?: string;
  /** Send iPXE clients to this URL (true: http://<gatewayIp>/boot.ipxe) and other firmware to its chainloader. */
  ipxe?: string | true;
}

/** What plain PXE clients get without --bootfile: the sample tree's pxelinux, or iPXE's BIOS build to chain to HTTP. */
const bootfileFor = (target: BootTarget): string => target.bootfile ?? (target.ipxe ? CHAINLOADERS.bios : 'pxelinux.0');

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

/** libvirt's namespace for lines it passes to dnsmasq as they are (`<dnsmasq:options><dnsmasq:option value=.../>`). */
const DNSMASQ_NS = 'http://libvirt.org/schemas/network/dnsmasq/1.0';

const dnsmasqChildren = (e: Element, local: string): Element[] =>
  Array.from(e.childNodes).filter((n): n is Element => n.nodeType === ELEMENT && (n as Element).namespaceURI === DNSMASQ_NS && (n as Element).localName === local);

/** icboot's dnsmasq lines are known by their tags alone, whatever else they say (dnsmasq_boot.ts gives every tag the prefix). */
const ICBOOT_TAG = new RegExp(`(?:^|[=,])(?:set|tag):!?${TAG_PREFIX}`);

const icbootOptions = (network: Element): Element[] =>
  dnsmasqChildren(network, 'options').flatMap((o) => dnsmasqChildren(o, 'option')).filter((o) => ICBOOT_TAG.test(o.getAttribute('value') ?? ''));

/** icboot's part of a network: every `<tftp>` of its addresses, every `<bootp>` of their DHCP, and its dnsmasq options. */
const bootElements = (network: Element): Element[] => [
  ...children(network, 'ip').flatMap((ip) => [...children(ip, 'tftp'), ...children(ip, 'dhcp').flatMap((d) => children(d, 'bootp'))]),
  ...icbootOptions(network),
];

/**
 * Removes icboot's dnsmasq options; an `<dnsmasq:options>` they leave empty was icboot's (libvirt keeps no empty
 * one), so it goes too, and with it the namespace declaration once nothing uses it, as libvirt would write it.
 */
function removeIcbootOptions(network: Element): void {
  const ours = icbootOptions(network);
  const holders = new Set(ours.map((o) => o.parentNode as Element));
  for (const o of ours) removeIndented(o);
  const emptied = [...holders].filter((h) => Array.from(h.childNodes).every((n) => n.nodeType === TEXT && !(n.nodeValue ?? '').trim()));
  for (const h of emptied) removeIndented(h);
  if (emptied.length && !network.getElementsByTagNameNS(DNSMASQ_NS, '*').length) {
    for (const a of Array.from(network.attributes).filter((a) => a.name.startsWith('xmlns:') && a.value === DNSMASQ_NS)) network.removeAttributeNode(a);
  }
}

/** The network's `<dnsmasq:options>` that icboot adds to (the last, after the user's lines), created if there is none. */
function optionsElement(network: Element): Element {
  const existing = dnsmasqChildren(network, 'options').pop();
  if (existing) return existing;
  let prefix = network.lookupPrefix(DNSMASQ_NS);
  if (!prefix) {
    prefix = 'dnsmasq';
    network.setAttributeNS('http://www.w3.org/2000/xmlns/', `xmlns:${prefix}`, DNSMASQ_NS);
  }
  const options = network.ownerDocument!.createElementNS(DNSMASQ_NS, `${prefix}:options`);
  appendIndented(network, options);
  return options;
}

/** Appends one `<dnsmasq:option value=LINE/>` per line to the network's options, after any that are there. */
function addOptions(network: Element, lines: string[]): void {
  const options = optionsElement(network);
  const doc = network.ownerDocument!;
  for (const line of lines) {
    const option = doc.createElementNS(DNSMASQ_NS, `${options.prefix ? `${options.prefix}:` : ''}option`);
    option.setAttribute('value', line);
    appendIndented(options, option);
  }
}

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

/** The whitespace in front of `e`, if that is all that precedes it. */
function indentOf(e: Node): string | null {
  const before = e.previousSibling;
  return before && before.nodeType === TEXT && /^\s+$/.test(before.nodeValue ?? '') ? before.nodeValue! : null;
}

/** Inserts `child` as the last element of `parent`, indented like its siblings (or one step in from `parent`). */
function appendIndented(parent: Element, child: Element): void {
  const doc = parent.ownerDocument!;
  const last = Array.from(parent.childNodes).filter((n) => n.nodeType === ELEMENT).pop();
  if (last) {
    parent.insertBefore(doc.createTextNode(indentOf(last) ?? '\n'), last.nextSibling);
    parent.insertBefore(child, last.nextSibling!.nextSibling);
  } else {
    const outer = indentOf(parent) ?? '\n';
    for (const n of Array.from(parent.childNodes).filter((n) => n.nodeType === TEXT && !(n.nodeValue ?? '').trim())) parent.removeChild(n);
    parent.appendChild(doc.createTextNode(`${outer}  `));
    parent.appendChild(child);
    parent.appendChild(doc.createTextNode(outer));
  }
}

/** Removes `e` and the indentation in front of it. */
function removeIndented(e: Element): void {
  if (indentOf(e) !== null) e.parentNode!.removeChild(e.previousSibling!);
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

/** iPXE gets the URL in the BOOTP file field, and dnsmasq splits its settings at commas (and drops quotes). */
function checkIpxeUrl(url: string): void {
  const why = !/^https?:\/\//.test(url) ? 'it must start with http:// or https://'
    : !URL.canParse(url) ? 'not a valid URL'
      : Buffer.byteLength(url) > MAX_BOOTFILE_BYTES ? `longer than ${MAX_BOOTFILE_BYTES} bytes, the room BOOTP has for it`
        : /[^\x21-\x7e]/.test(url) ? 'it has a space or a character outside printable ASCII'
          : /[,"]/.test(url) ? 'it has a comma or a double quote, which dnsmasq would split or drop' : null;
  if (why) throw new NetworkXmlError('bad-ipxe-url', `--ipxe "${url}": ${why}`);
}

/** Edits a network's XML (as `virsh net-dumpxml --inactive` gives it) to boot PXE clients from the gateway. */
export function editNetwork(xml: string, target: BootTarget): NetworkEdit {
  const bootfile = bootfileFor(target);
  checkBootfile(bootfile);
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
  if (gatewayIp !== address) notes.push(`PXE clients will fetch ${bootfile} from ${gatewayIp}, not from the bridge address ${address}`);

  for (const tftp of children(network, 'ip').flatMap((i) => children(i, 'tftp'))) {
    notes.push(`found ${show(tftp)} on ${tftp.parentNode && (tftp.parentNode as Element).getAttribute('address')}: libvirt's dnsmasq would serve TFTP on port 69 there, `
      + 'in the gateway\'s place; icboot removes it');
    removeIndented(tftp);
  }

  const bootps = children(dhcp, 'bootp');
  for (const extra of bootps.slice(1)) removeIndented(extra);
  const bootp = bootps[0] ?? doc.createElement('bootp');
  const was = bootps[0] ? show(bootps[0]) : null;
  bootp.setAttribute('file', bootfile);
  bootp.setAttribute('server', gatewayIp);
  if (!bootps[0]) appendIndented(dhcp, bootp);
  else if (was !== show(bootp)) notes.push(`found ${was} on ${address}: icboot replaces it with ${show(bootp)}`);

  // icboot's lines go after the user's, rebuilt each time: applying again finds them as they were, and without --ipxe removes them.
  const ipxeUrl = target.ipxe === undefined ? null : target.ipxe === true ? defaultIpxeUrl(gatewayIp) : target.ipxe;
  if (ipxeUrl === null) removeIcbootOptions(network);
  else {
    checkIpxeUrl(ipxeUrl);
    // The gateway serves no HTTP unless told to: say where, since nothing else will until a machine hangs at boot.
    const url = new URL(ipxeUrl);
    notes.push(`iPXE clients will fetch ${ipxeUrl}: run the gateway with --http ${url.hostname}:${url.port || 80}`);
    for (const o of icbootOptions(network)) removeIndented(o);
    for (const theirs of dnsmasqChildren(network, 'options').flatMap((o) => dnsmasqChildren(o, 'option'))) {
      const value = theirs.getAttribute('value') ?? '';
      if (/^dhcp-boot=/.test(value)) notes.push(`found the dnsmasq option "${value}" of network ${name}: it may send some clients elsewhere than icboot's dhcp-boot lines; remove it with \`virsh net-edit ${name}\` if so`);
    }
    addOptions(network, ipxeBootOptions(gatewayIp, ipxeUrl));
  }
  const after = serializer.serializeToString(doc);
  return { before, after, changed: canonical(before) !== canonical(after), gatewayIp, notes };
}

/** A new network like libvirt's stock `default` (NAT, one /24 on `gatewayIp`), booting PXE clients from the gateway there. */
export function newNetwork(name: string, gatewayIp: string, target: Omit<BootTarget, 'gatewayIp'>): string {
  const octets = gatewayIp.split('.');
  if (!isIPv4(gatewayIp) || octets[3] !== '1') {
    throw new NetworkXmlError('bad-address', `--gateway-ip for a new network must be an IPv4 address ending in .1 (the bridge's own address, e.g. 192.168.123.1), not "${gatewayIp}"`);
  }
  const net = octets.slice(0, 3).join('.');
  const bare = `<network>
  <name>${escape(name)}</name>
  <forward mode='nat'/>
  <ip address='${gatewayIp}' netmask='255.255.255.0'>
    <dhcp>
      <range start='${net}.2' end='${net}.254'/>
    </dhcp>
  </ip>
</network>
`;
  return editNetwork(bare, target).after;
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

/** Only icboot's part of the network (`<bootp>`, `<tftp>`, its dnsmasq options), canonical: whether a running network already has the edit. */
export function bootSettings(xml: string): string {
  return bootElements(parse(xml, 'network XML').documentElement!).map(canonicalNode).join('');
}

/** The network without icboot's part (`<bootp>`, `<tftp>`, its dnsmasq options), to tell whether anything else changed. */
export function withoutBootSettings(xml: string): string {
  const network = parse(xml, 'network XML').documentElement!;
  removeIcbootOptions(network);
  for (const e of bootElements(network)) removeIndented(e);
  return canonicalNode(network);
}

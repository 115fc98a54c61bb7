// The proxyDHCP decision (PXE 2.1 spec, RFC 4578): what to answer a request
// that reached port 67 or 4011, if anything. Pure: the server does the I/O.
// The reasons behind each rule are in docs/dhcp.md, "What the proxy answers".
import { BOOT_IPXE_PATH, CHAINLOADERS, CLIENT_ARCH_CODES, HTTP_BOOT_ARCH_CODES, IPXE_OPTION, IPXE_USER_CLASS, httpUrl } from '../../common/machines/firmware.ts';
import { BOOTREPLY, BOOTREQUEST, CLIENT_PORT, MSG, OPT, PXE_PORT, SERVER_PORT, encodeSubOptions, macOf, type DhcpPacket } from './packet.ts';

export interface ProxySettings {
  /** Our address on the DHCP interface: siaddr, option 54, the TFTP server. */
  serverIp: string;
  /** Where iPXE clients go, e.g. http://192.168.150.1/boot.ipxe. */
  bootIpxeUrl: string;
  /** http://HOST[:PORT] of the gateway, for UEFI HTTP Boot clients (HTTPClient). */
  httpBase: string;
}

/**
 * What the proxy hands out when it answers from `address` (the DHCP interface's) and the gateway's HTTP listens
 * on `http`: on 0.0.0.0, clients are sent to `address`; port 80 is left out of URLs, as GRUB reaches only that one.
 */
export function proxySettings(address: string, http: { host: string; port: number }): ProxySettings {
  const httpBase = httpUrl(http.host === '0.0.0.0' ? address : http.host, http.port);
  return { serverIp: address, bootIpxeUrl: `${httpBase}${BOOT_IPXE_PATH}`, httpBase };
}

/** Why a request gets no answer; a code for the server to count and throttle by. */
export type IgnoreReason = 'not-request' | 'not-boot-client' | 'message-type' | 'unknown-arch' | 'bad-address';

export type ProxyAnswer =
  | { kind: 'reply'; packet: DhcpPacket; to: { address: string; port: number }; summary: string }
  | { kind: 'ignore'; reason: IgnoreReason; why: string };

/** PXE vendor sub-option 6, PXE_DISCOVERY_CONTROL. */
const PXE_DISCOVERY_CONTROL = 6;
/**
 * Bit 3: take the boot file named in this offer; no prompt, no menu, no boot server discovery. (Bits 0-2
 * only matter when discovering, which bit 3 skips.)
 */
const USE_BOOT_FILE = 0x08;
const PXE_VENDOR_OPTIONS = encodeSubOptions(new Map([[PXE_DISCOVERY_CONTROL, Buffer.from([USE_BOOT_FILE])]]));
/** The flags bit that asks for a broadcast reply (RFC 2131 2). */
const BROADCAST = 0x8000;
const ZERO = '0.0.0.0';

type ClientClass = 'PXEClient' | 'HTTPClient';

function clientClass(req: DhcpPacket): ClientClass | null {
  const vc = req.options.get(OPT.VENDOR_CLASS)?.toString('latin1') ?? '';
  if (vc.startsWith('PXEClient')) return 'PXEClient';
  if (vc.startsWith('HTTPClient')) return 'HTTPClient';
  return null;
}

/** iPXE's user class is the bare text "iPXE"; RFC 3004's form (length-prefixed items) is accepted too. */
function runsIpxe(req: DhcpPacket): boolean {
  if (req.options.has(IPXE_OPTION)) return true;
  const uc = req.options.get(OPT.USER_CLASS);
  if (!uc) return false;
  if (uc.toString('latin1') === IPXE_USER_CLASS) return true;
  for (let i = 0; i < uc.length; i += 1 + uc[i]) {
    if (uc.subarray(i + 1, i + 1 + uc[i]).toString('latin1') === IPXE_USER_CLASS) return true;
  }
  return false;
}

function archCode(req: DhcpPacket): number | null {
  const v = req.options.get(OPT.CLIENT_ARCH);
  // A client that sends no option 93 is taken for BIOS (docs/booting.md).
  if (!v) return 0;
  // RFC 4578: a list of 16-bit codes, the first the one in use.
  return v.length >= 2 ? v.readUInt16BE(0) : null;
}

/** An address a reply may go to: unicast, not 0/8 (this network), 127/8 (loopback) or 224/3 (multicast, reserved, broadcast). */
function unicast(ip: string): boolean {
  const first = Number(ip.split('.')[0]);
  return first !== 0 && first !== 127 && first < 224;
}

const ignore = (reason: IgnoreReason, why: string): ProxyAnswer => ({ kind: 'ignore', reason, why });

export function proxyAnswer(req: DhcpPacket, port: 67 | 4011, from: { address: string; port: number }, s: ProxySettings): ProxyAnswer {
  if (req.op !== BOOTREQUEST) return ignore('not-request', 'not a BOOTREQUEST');
  const cls = clientClass(req);
  if (!cls) return ignore('not-boot-client', 'option 60 does not start with PXEClient or HTTPClient');
  const type = req.options.get(OPT.MESSAGE_TYPE)?.[0];
  // Port 67 offers; the REQUEST that follows there selects the DHCP server's lease, not ours. Port 4011
  // answers the REQUEST a PXE client sends for boot information after its lease.
  const wanted = port === SERVER_PORT ? MSG.DISCOVER : MSG.REQUEST;
  if (type !== wanted) return ignore('message-type', `DHCP message type ${type ?? 'none'} on port ${port}: only ${port === SERVER_PORT ? 'DISCOVER' : 'REQUEST'} is answered there`);
  // Replies go to giaddr or ciaddr when set (RFC 2131 4.1): never to one that names no host.
  for (const [field, ip] of [['giaddr', req.giaddr], ['ciaddr', req.ciaddr]]) {
    if (ip !== ZERO && !unicast(ip)) return ignore('bad-address', `${field} ${ip} is not a unicast address`);
  }
  const code = archCode(req);
  const ipxe = runsIpxe(req);
  const arch = code === null ? undefined : (cls === 'HTTPClient' ? HTTP_BOOT_ARCH_CODES : CLIENT_ARCH_CODES).get(code);
  // An iPXE client is sent to /boot.ipxe whatever its arch: the script there asks for the rest.
  if (!arch && !ipxe) return ignore('unknown-arch', `client architecture (option 93) ${code ?? 'malformed'} has no boot file`);
  const file = ipxe ? s.bootIpxeUrl : cls === 'HTTPClient' ? `${s.httpBase}/${CHAINLOADERS[arch!]}` : CHAINLOADERS[arch!];

  const options = new Map<number, Buffer>([
    [OPT.MESSAGE_TYPE, Buffer.from([port === SERVER_PORT ? MSG.OFFER : MSG.ACK])],
    [OPT.SERVER_ID, Buffer.from(s.serverIp.split('.').map(Number))],
    // PXE 2.1: a proxyDHCP reply carries the client's class, which is how firmware tells it from a lease.
    [OPT.VENDOR_CLASS, Buffer.from(cls, 'latin1')],
  ]);
  const uuid = req.options.get(OPT.CLIENT_UUID);
  if (uuid) options.set(OPT.CLIENT_UUID, uuid);
  // Option 43 is read in the PXEClient vendor space only; HTTP Boot takes the URL from the file field.
  if (cls === 'PXEClient') options.set(OPT.VENDOR_SPECIFIC, PXE_VENDOR_OPTIONS);

  const offer = port === SERVER_PORT;
  const packet: DhcpPacket = {
    op: BOOTREPLY, htype: req.htype, hlen: req.hlen, hops: 0, xid: req.xid, secs: 0,
    // The client has no address yet: an OFFER must be broadcast, by us or by the relay that carries it.
    flags: offer ? req.flags | BROADCAST : req.flags,
    ciaddr: offer ? ZERO : req.ciaddr, yiaddr: ZERO, siaddr: s.serverIp, giaddr: req.giaddr,
    chaddr: req.chaddr, sname: '', file, options,
  };
  // RFC 2131 4.1: through the relay when there is one; to a client that has an address, there; else broadcast.
  // Port 4011 answers whoever asked, where they asked from.
  const to = !offer ? from
    : req.giaddr !== ZERO ? { address: req.giaddr, port: SERVER_PORT }
      : req.ciaddr !== ZERO ? { address: req.ciaddr, port: CLIENT_PORT }
        : { address: '255.255.255.255', port: CLIENT_PORT };
  const who = ipxe ? 'iPXE' : cls;
  const summary = `dhcp ${macOf(req) ?? '-'} ${arch ?? `arch-${code ?? '?'}`} ${who} -> ${file} (port ${offer ? SERVER_PORT : PXE_PORT})`;
  return { kind: 'reply', packet, to, summary };
}

// DHCP packets (RFC 2131 header, RFC 2132 options, RFC 3396 long options):
// parsing never throws and never reads past the buffer, whatever arrives on
// port 67; building returns the exact bytes to send. Pure: no I/O.
//
// What the parser accepts, and why (docs/dhcp.md, "The codec"):
// - END (255) is required only where RFC 2131 4.1 says MUST: when option 52
//   overloads file/sname, in the options field and in each overloaded field.
//   Without overload, options that run to the end of the packet are taken as
//   complete, as dnsmasq and ISC dhcpd take them.
// - Option 52 counts only in the options field, once: anywhere else, with a
//   length other than 1 or a value other than 1-3, it is 'bad-overload'. So an
//   overloaded field can never point at another one: no loops, no recursion.
// - Only Ethernet (htype 1, hlen 6): icboot knows machines by MAC.

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
export const SERVER_PORT = 67;
export const CLIENT_PORT = 68;
export const PXE_PORT = 4011;

export const OPT = {
  PAD: 0, VENDOR_SPECIFIC: 43, OVERLOAD: 52, MESSAGE_TYPE: 53, SERVER_ID: 54,
  PARAM_REQUEST_LIST: 55, MAX_MESSAGE_SIZE: 57, VENDOR_CLASS: 60, USER_CLASS: 77, CLIENT_ARCH: 93,
  CLIENT_NDI: 94, CLIENT_UUID: 97, END: 255,
} as const;

export const MSG = { DISCOVER: 1, OFFER: 2, REQUEST: 3, DECLINE: 4, ACK: 5, NAK: 6, RELEASE: 7, INFORM: 8 } as const;

export interface DhcpPacket {
  op: number; htype: number; hlen: number; hops: number; xid: number; secs: number; flags: number;
  /** Dotted quads. */
  ciaddr: string; yiaddr: string; siaddr: string; giaddr: string;
  /** 16 bytes, as on the wire. */
  chaddr: Buffer;
  /** NUL-terminated text fields, '' when they carried overloaded options. */
  sname: string; file: string;
  /**
   * Option code → value, in order of first appearance. Repeated instances of
   * one code are concatenated in wire order (RFC 3396: options field, then
   * file, then sname). Option 52 is consumed by the parser and never appears;
   * the encoder never overloads. Single-instance values are views into the
   * parsed buffer.
   */
  options: Map<number, Buffer>;
}

export type PacketProblem = 'short' | 'cookie' | 'option-overrun' | 'no-end' | 'bad-overload' | 'not-ethernet';
export type Parsed = { ok: true; packet: DhcpPacket } | { ok: false; problem: PacketProblem; message: string };

const SNAME = { at: 44, bytes: 64 } as const;
const FILE = { at: SNAME.at + SNAME.bytes, bytes: 128 } as const;
/** The fixed part of a message (RFC 2131 2): where the text fields sit and their sizes, then the magic cookie, then options. */
export const HEADER = { sname: SNAME, file: FILE, cookieAt: FILE.at + FILE.bytes, optionsAt: FILE.at + FILE.bytes + 4 } as const;
/** RFC 2131 3: the first four bytes after the header; without them the rest is not DHCP options. */
export const MAGIC_COOKIE = 0x63825363;
/** BOOTP's minimum message (RFC 951: 64 bytes of vendor area), which some relays and clients still insist on. */
const MIN_MESSAGE = 300;

const utf8 = new TextDecoder('utf-8');

function quad(b: Uint8Array, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

function text(b: Uint8Array, at: number, size: number): string {
  const field = b.subarray(at, at + size);
  const nul = field.indexOf(0);
  return utf8.decode(nul < 0 ? field : field.subarray(0, nul));
}

type Fail = { ok: false; problem: PacketProblem; message: string };
const fail = (problem: PacketProblem, message: string): Fail => ({ ok: false, problem, message });

/**
 * Walks the options in b[from, to) and appends each value to `chunks`.
 * Returns whether END was seen, or a failure.
 */
function walk(b: Buffer, from: number, to: number, where: string, chunks: Map<number, Buffer[]>): { end: boolean } | Fail {
  let i = from;
  while (i < to) {
    const code = b[i];
    if (code === OPT.END) return { end: true };
    if (code === OPT.PAD) {
      i++;
      continue;
    }
    if (i + 1 >= to) return fail('option-overrun', `option ${code} in the ${where} has no length byte`);
    const len = b[i + 1];
    if (i + 2 + len > to) return fail('option-overrun', `option ${code} in the ${where} claims ${len} bytes past its end`);
    const list = chunks.get(code);
    const value = b.subarray(i + 2, i + 2 + len);
    if (list) list.push(value);
    else chunks.set(code, [value]);
    i += 2 + len;
  }
  return { end: false };
}

export function parseDhcp(buf: Uint8Array): Parsed {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < HEADER.optionsAt) return fail('short', `${b.length} bytes, shorter than a DHCP header and magic cookie (${HEADER.optionsAt})`);
  if (b.readUInt32BE(HEADER.cookieAt) !== MAGIC_COOKIE) return fail('cookie', `magic cookie ${b.readUInt32BE(HEADER.cookieAt).toString(16)} is not ${MAGIC_COOKIE.toString(16)}`);
  const htype = b[1];
  const hlen = b[2];
  if (htype !== 1 || hlen !== 6) return fail('not-ethernet', `hardware type ${htype} length ${hlen}, not Ethernet (1, 6)`);

  const chunks = new Map<number, Buffer[]>();
  const main = walk(b, HEADER.optionsAt, b.length, 'options field', chunks);
  if ('ok' in main) return main;

  const overload = chunks.get(OPT.OVERLOAD);
  chunks.delete(OPT.OVERLOAD);
  let fields: ('file' | 'sname')[] = [];
  if (overload) {
    const v = overload.length === 1 && overload[0].length === 1 ? overload[0][0] : 0;
    if (v < 1 || v > 3) return fail('bad-overload', 'option 52 (overload) is not one byte of 1, 2 or 3');
    if (!main.end) return fail('no-end', 'the options field of an overloaded packet has no END (RFC 2131 4.1)');
    // RFC 2131 4.1: the file field is read before sname.
    fields = v === 1 ? ['file'] : v === 2 ? ['sname'] : ['file', 'sname'];
    for (const field of fields) {
      const { at, bytes } = HEADER[field];
      const r = walk(b, at, at + bytes, `${field} field`, chunks);
      if ('ok' in r) return r;
      if (chunks.has(OPT.OVERLOAD)) return fail('bad-overload', `option 52 (overload) inside the overloaded ${field} field`);
      if (!r.end) return fail('no-end', `the overloaded ${field} field has no END (RFC 2131 4.1)`);
    }
  }

  const options = new Map<number, Buffer>();
  for (const [code, list] of chunks) options.set(code, list.length === 1 ? list[0] : Buffer.concat(list));
  return {
    ok: true,
    packet: {
      op: b[0], htype, hlen, hops: b[3], xid: b.readUInt32BE(4), secs: b.readUInt16BE(8), flags: b.readUInt16BE(10),
      ciaddr: quad(b, 12), yiaddr: quad(b, 16), siaddr: quad(b, 20), giaddr: quad(b, 24),
      chaddr: Buffer.from(b.subarray(28, 44)),
      sname: fields.includes('sname') ? '' : text(b, HEADER.sname.at, HEADER.sname.bytes),
      file: fields.includes('file') ? '' : text(b, HEADER.file.at, HEADER.file.bytes),
      options,
    },
  };
}

function writeQuad(out: Buffer, at: number, ip: string, field: string): void {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new RangeError(`DHCP ${field} ${JSON.stringify(ip)} is not a dotted-quad IPv4 address`);
  }
  parts.forEach((p, i) => { out[at + i] = Number(p); });
}

function writeText(out: Buffer, field: 'sname' | 'file', value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  // One byte stays for the terminating NUL.
  if (bytes.length >= HEADER[field].bytes) throw new RangeError(`DHCP ${field} is ${bytes.length} bytes, at most ${HEADER[field].bytes - 1} fit`);
  bytes.copy(out, HEADER[field].at);
}

/** code, length, value; values over 255 bytes as consecutive instances (RFC 3396). */
function tlvs(code: number, value: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  do {
    const piece = value.subarray(at, at + 255);
    out.push(Buffer.from([code, piece.length]), piece);
    at += 255;
  } while (at < value.length);
  return out;
}

/**
 * The packet's bytes: options in map order (PAD, END and overload are the
 * encoder's to write, so they are skipped), END, then PAD up to BOOTP's
 * 300-byte minimum. Throws RangeError for an address that is not a dotted
 * quad or a text field that does not fit: the caller's values, not a client's.
 */
export function encodeDhcp(p: DhcpPacket): Buffer {
  const head = Buffer.alloc(HEADER.optionsAt);
  head[0] = p.op & 0xff;
  head[1] = p.htype & 0xff;
  head[2] = p.hlen & 0xff;
  head[3] = p.hops & 0xff;
  head.writeUInt32BE(p.xid >>> 0, 4);
  head.writeUInt16BE(p.secs & 0xffff, 8);
  head.writeUInt16BE(p.flags & 0xffff, 10);
  writeQuad(head, 12, p.ciaddr, 'ciaddr');
  writeQuad(head, 16, p.yiaddr, 'yiaddr');
  writeQuad(head, 20, p.siaddr, 'siaddr');
  writeQuad(head, 24, p.giaddr, 'giaddr');
  p.chaddr.copy(head, 28, 0, 16);
  writeText(head, 'sname', p.sname);
  writeText(head, 'file', p.file);
  head.writeUInt32BE(MAGIC_COOKIE, HEADER.cookieAt);
  const parts: Buffer[] = [head];
  for (const [code, value] of p.options) {
    if (code !== OPT.PAD && code !== OPT.END && code !== OPT.OVERLOAD) parts.push(...tlvs(code, value));
  }
  parts.push(Buffer.from([OPT.END]));
  const out = Buffer.concat(parts);
  return out.length >= MIN_MESSAGE ? out : Buffer.concat([out, Buffer.alloc(MIN_MESSAGE - out.length)]);
}

/**
 * PXE vendor options (the option 43 payload, PXE 2.1 spec 2.2.5): each
 * sub-option as code, length, value, then END. Sub-options cannot be split,
 * so a value over 255 bytes is a RangeError.
 */
export function encodeSubOptions(sub: Map<number, Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const [code, value] of sub) {
    if (value.length > 255) throw new RangeError(`PXE sub-option ${code} is ${value.length} bytes, at most 255 fit`);
    parts.push(Buffer.from([code, value.length]), value);
  }
  parts.push(Buffer.from([OPT.END]));
  return Buffer.concat(parts);
}

/**
 * The reverse of encodeSubOptions: null when a sub-option runs past the end. The proxy never reads option 43;
 * tests and benchmarks use this to check what it sent.
 */
export function parseSubOptions(payload: Buffer): Map<number, Buffer> | null {
  const chunks = new Map<number, Buffer[]>();
  const r = walk(payload, 0, payload.length, 'option 43', chunks);
  if ('ok' in r) return null;
  return new Map([...chunks].map(([code, list]) => [code, list.length === 1 ? list[0] : Buffer.concat(list)]));
}

/** "52:54:00:12:34:56" for Ethernet (htype 1, hlen 6), else null. */
export function macOf(p: DhcpPacket): string | null {
  if (p.htype !== 1 || p.hlen !== 6 || p.chaddr.length < 6) return null;
  return [...p.chaddr.subarray(0, 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

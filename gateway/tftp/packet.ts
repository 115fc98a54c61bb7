// TFTP packets (RFC 1350) with options (RFC 2347): parsing never throws, it
// returns a typed result; building returns the exact bytes to send.

export const OP = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;

/** RFC 1350 / 2347 error codes. */
export const ERR = {
  UNDEFINED: 0,
  NOT_FOUND: 1,
  ACCESS: 2,
  DISK_FULL: 3,
  ILLEGAL: 4,
  UNKNOWN_TID: 5,
  EXISTS: 6,
  NO_USER: 7,
  OPTIONS: 8,
} as const;

export type Packet =
  | { op: 1 | 2; filename: string; mode: string; options: Map<string, string> }
  | { op: 3; block: number; data: Uint8Array }
  | { op: 4; block: number }
  | { op: 5; code: number; message: string }
  | { op: 6; options: Map<string, string> };

export type Parsed = { ok: true; packet: Packet } | { ok: false; reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A file name: UTF-8 (what boot loaders and Linux clients send for non-ASCII
 * names), or latin1 when the bytes are not valid UTF-8, as RFC 1350 predates
 * any encoding and older clients send single bytes.
 */
export function decodeName(b: Uint8Array): string {
  try {
    return utf8.decode(b);
  } catch {
    return latin1(b);
  }
}

/** NUL-terminated strings from `start` to the end of the packet; the first is decoded with `first`, the rest as latin1. */
function strings(b: Uint8Array, start: number, first: (b: Uint8Array) => string = latin1): string[] | null {
  const out: string[] = [];
  let s = start;
  for (let i = start; i < b.length; i++) {
    if (b[i] === 0) {
      out.push((out.length === 0 ? first : latin1)(b.subarray(s, i)));
      s = i + 1;
    }
  }
  return s === b.length ? out : null;
}

function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
}

/** Whether `msg` is an ERROR packet (never to be answered with one). */
export function isError(msg: Uint8Array): boolean {
  return msg.length >= 2 && msg[0] === 0 && msg[1] === OP.ERROR;
}

/** The block number of a plain 4-byte ACK, or null for anything else: the per-packet path, without parse()'s allocation. */
export function ackedBlock(msg: Uint8Array): number | null {
  return msg.length === 4 && msg[0] === 0 && msg[1] === OP.ACK ? (msg[2] << 8) | msg[3] : null;
}

export function parse(b: Uint8Array): Parsed {
  if (b.length < 2) return { ok: false, reason: 'packet shorter than an opcode' };
  const op = (b[0] << 8) | b[1];
  const u16 = (at: number): number => (b[at] << 8) | b[at + 1];
  switch (op) {
    case OP.RRQ:
    case OP.WRQ: {
      const parts = strings(b, 2, decodeName);
      if (!parts || parts.length < 2) return { ok: false, reason: 'request without NUL-terminated filename and mode' };
      if (parts.length % 2 !== 0) return { ok: false, reason: 'option without a value' };
      const options = new Map<string, string>();
      for (let i = 2; i < parts.length; i += 2) {
        const name = parts[i].toLowerCase();
        // The first occurrence of an option counts.
        if (!options.has(name)) options.set(name, parts[i + 1]);
      }
      return { ok: true, packet: { op, filename: parts[0], mode: parts[1].toLowerCase(), options } };
    }
    case OP.DATA:
      if (b.length < 4) return { ok: false, reason: 'DATA without block number' };
      return { ok: true, packet: { op, block: u16(2), data: b.subarray(4) } };
    case OP.ACK:
      if (b.length < 4) return { ok: false, reason: 'ACK without block number' };
      return { ok: true, packet: { op, block: u16(2) } };
    case OP.ERROR: {
      if (b.length < 4) return { ok: false, reason: 'ERROR without code' };
      const end = b.indexOf(0, 4);
      return { ok: true, packet: { op, code: u16(2), message: latin1(b.subarray(4, end < 0 ? b.length : end)) } };
    }
    case OP.OACK: {
      const parts = strings(b, 2);
      if (!parts || parts.length % 2 !== 0) return { ok: false, reason: 'malformed OACK' };
      const options = new Map<string, string>();
      for (let i = 0; i < parts.length; i += 2) options.set(parts[i].toLowerCase(), parts[i + 1]);
      return { ok: true, packet: { op, options } };
    }
    default:
      return { ok: false, reason: `unknown opcode ${op}` };
  }
}

export function data(block: number, payload: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(4 + payload.length);
  b.writeUInt16BE(OP.DATA, 0);
  b.writeUInt16BE(block & 0xffff, 2);
  b.set(payload, 4);
  return b;
}

export function ack(block: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(OP.ACK, 0);
  b.writeUInt16BE(block & 0xffff, 2);
  return b;
}

export function error(code: number, message: string): Buffer {
  const text = Buffer.from(message.slice(0, 200), 'latin1');
  const b = Buffer.alloc(5 + text.length);
  b.writeUInt16BE(OP.ERROR, 0);
  b.writeUInt16BE(code, 2);
  text.copy(b, 4);
  return b;
}

export function oack(options: Map<string, string>): Buffer {
  const parts = [...options].flatMap(([k, v]) => [Buffer.from(k, 'latin1'), Buffer.from([0]), Buffer.from(v, 'latin1'), Buffer.from([0])]);
  return Buffer.concat([Buffer.from([0, OP.OACK]), ...parts]);
}

/** Packet builder for requests (used by tests and benchmarks as a client). */
export function request(op: 1 | 2, filename: string, mode: string, options: Record<string, string> = {}): Buffer {
  const fields = [Buffer.from(filename, 'utf8'), ...[mode, ...Object.entries(options).flat()].map((f) => Buffer.from(f, 'latin1'))];
  return Buffer.concat([Buffer.from([0, op]), ...fields.flatMap((f) => [f, Buffer.from([0])])]);
}

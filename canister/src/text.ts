// Text ↔ bytes inside the canister. azle's TextEncoder and TextDecoder are
// JavaScript polyfills that cost 14,000 and 19,000–64,000 instructions per
// byte under QuickJS (measured with metering on the devnet); a 2.5 MB manifest
// would not fit one message. The documents the canister writes are ASCII
// (common/manifest.ts escapes the rest), so a byte is a character: bytes are
// made by azle's Candid encoder, which is native, and read back a slice at a
// time with String.fromCharCode, also native.
import { candidEncode } from 'azle';
import { lebLength } from '../../common/leb128.ts';

/** What candidEncode puts before a text value's bytes: DIDL, no types, one argument of type text. */
const TEXT_ARG_HEADER = [0x44, 0x49, 0x44, 0x4c, 0x00, 0x01, 0x71];
const SLICE = 8192;

/** The bytes of printable ASCII text, such as the JSON the canister writes. */
export function asciiBytes(text: string): Uint8Array {
  // Where JSON and Candid escape differently (control characters), neither appears.
  if (!/^[\x20-\x7e]*$/.test(text)) throw new Error('asciiBytes: text is not printable ASCII');
  // A JSON string literal is also a Candid text literal once it is ASCII.
  const encoded = candidEncode(`(${JSON.stringify(text)})`);
  const start = TEXT_ARG_HEADER.length + lebLength(text.length);
  if (encoded.length !== start + text.length) throw new Error('asciiBytes: unexpected Candid encoding');
  return encoded.subarray(start);
}

/** The text of UTF-8 bytes: natively when they are ASCII, as everything the canister writes is. */
export function decodeText(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += SLICE) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + SLICE) as unknown as number[]);
  }
  // Documents written before they were kept ASCII may hold other UTF-8.
  return /[\x80-\xff]/.test(text) ? new TextDecoder().decode(bytes) : text;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const BYTE = new Map(HEX.map((h, i) => [h, i]));

/** Lowercase hex, by table: noble's bytesToHex costs a third more here. */
export function hex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]];
  return out;
}

/** The bytes of lowercase hex the canister wrote itself (manifests), by table: half of noble's hexToBytes. */
export function unhex(text: string): Uint8Array {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = BYTE.get(text.substr(i * 2, 2))!;
  return out;
}

// The devnet decodes the arguments of the management canister and of its
// builtin canisters in its own process, with @dfinity/candid, which trusts
// its input: a vector of a zero-sized type (null, reserved, an empty record)
// declares a billion elements in a few bytes and materializes them all, and
// its LEB128 decoding is quadratic in the number's length, so one long `nat`
// blocks the event loop for minutes. Like the IC's decoding quota, this walks
// the message once, in time linear in its length, and refuses what would be
// costly to decode; what it accepts, the real decoder then checks in full.

/** Why a Candid message is refused before decoding: a one-line reason. */
export class CandidGuardError extends Error {}

/** The longest LEB128 number the type table or a length may use: 10 bytes hold any u64. */
const MAX_LEB_BYTES = 10;
/** The longest `nat`/`int` value in bytes: 224 bits, room above u128, the largest the devnet consumes. */
export const MAX_NUMBER_BYTES = 32;
const MAX_TABLE_ENTRIES = 10_000;
/** Values nested deeper than this are refused; the argument types the devnet serves nest a few levels. */
const MAX_DEPTH = 64;
/** The work allowed: one step per value, a base plus a few per byte, so decoding stays linear. */
const BASE_STEPS = 100_000;
const STEPS_PER_BYTE = 2;

const NULL = -1;
const BOOL = -2;
const NAT = -3;
const INT = -4;
const TEXT = -15;
const RESERVED = -16;
const EMPTY = -17;
const OPT = -18;
const VEC = -19;
const RECORD = -20;
const VARIANT = -21;
const FUNC = -22;
const SERVICE = -23;
const PRINCIPAL = -24;
/** Byte widths of the fixed-size primitives: nat8..nat64, int8..int64, float32, float64. */
const FIXED_WIDTH = new Map([[-5, 1], [-6, 2], [-7, 4], [-8, 8], [-9, 1], [-10, 2], [-11, 4], [-12, 8], [-13, 4], [-14, 8]]);

/** A type-table entry: its opcode and the types it refers to (element, fields or alternatives). */
type Entry = { op: number; refs: number[] };

/** Throws a CandidGuardError unless `bytes` is a Candid message cheap and safe to decode. */
export function assertSafeToDecode(bytes: Uint8Array): void {
  const r = new Reader(bytes);
  if (r.bytes(4).some((b, i) => b !== 'DIDL'.charCodeAt(i))) throw new CandidGuardError('not a Candid message (missing DIDL magic)');
  const table = readTable(r);
  refuseZeroSizedVectors(table);
  const args: number[] = [];
  for (let n = r.leb(); n > 0; n--) args.push(checkedRef(r.sleb(), table.length));
  const walker = new ValueWalker(r, table, BASE_STEPS + STEPS_PER_BYTE * bytes.length);
  for (const t of args) walker.value(t, 0);
}

function readTable(r: Reader): Entry[] {
  const count = r.leb();
  if (count > MAX_TABLE_ENTRIES) throw new CandidGuardError(`Candid type table of ${count} entries is too large`);
  const table: Entry[] = [];
  for (let i = 0; i < count; i++) {
    const op = r.sleb();
    const refs: number[] = [];
    switch (op) {
      case OPT:
      case VEC:
        refs.push(r.sleb());
        break;
      case RECORD:
      case VARIANT:
        for (let n = r.leb(); n > 0; n--) {
          r.leb();
          refs.push(r.sleb());
        }
        break;
      case FUNC:
        for (let n = r.leb(); n > 0; n--) refs.push(r.sleb());
        for (let n = r.leb(); n > 0; n--) refs.push(r.sleb());
        r.bytes(r.leb());
        break;
      case SERVICE:
        for (let n = r.leb(); n > 0; n--) {
          r.bytes(r.leb());
          refs.push(r.sleb());
        }
        break;
      default:
        throw new CandidGuardError(`unsupported Candid type opcode ${op} in the type table`);
    }
    table.push({ op, refs });
  }
  for (const e of table) for (const t of e.refs) checkedRef(t, table.length);
  return table;
}

/** A type reference: an entry of the table, or a primitive type the decoder knows. */
function checkedRef(t: number, entries: number): number {
  if (t >= entries) throw new CandidGuardError(`Candid type index ${t} out of range`);
  if (t < 0 && !(t >= EMPTY || t === PRINCIPAL)) throw new CandidGuardError(`unsupported Candid type opcode ${t}`);
  return t;
}

function refuseZeroSizedVectors(table: Entry[]): void {
  const zeroSized = (t: number, seen: Set<number>): boolean => {
    if (t === NULL || t === RESERVED || t === EMPTY) return true;
    if (t < 0 || table[t].op !== RECORD) return false;
    if (seen.has(t)) return true;
    seen.add(t);
    return table[t].refs.every((f) => zeroSized(f, seen));
  };
  for (const e of table) {
    if (e.op === VEC && zeroSized(e.refs[0], new Set())) {
      throw new CandidGuardError('Candid vectors of zero-sized types (null, reserved, empty records) are not accepted');
    }
  }
}

/** Skips the values of a message by their wire types, counting the work. */
class ValueWalker {
  constructor(private readonly r: Reader, private readonly table: Entry[], private steps: number) {}

  value(t: number, depth: number): void {
    if (--this.steps < 0) throw new CandidGuardError('Candid message holds too many values for its size');
    if (depth > MAX_DEPTH) throw new CandidGuardError(`Candid values nested deeper than ${MAX_DEPTH} levels are not accepted`);
    const r = this.r;
    const width = FIXED_WIDTH.get(t);
    if (width !== undefined) return void r.bytes(width);
    switch (t) {
      case NULL:
      case RESERVED:
        return;
      case EMPTY:
        throw new CandidGuardError('a Candid value of type empty cannot exist');
      case BOOL:
        return void r.bytes(1);
      case NAT:
      case INT:
        return r.number();
      case TEXT:
        return void r.bytes(r.leb());
      case PRINCIPAL:
        return this.principal();
    }
    const e = this.table[t];
    switch (e.op) {
      case OPT:
        if (r.byte() !== 0) this.value(e.refs[0], depth + 1);
        return;
      case VEC: {
        const n = r.leb();
        const w = FIXED_WIDTH.get(e.refs[0]);
        // A vector of a fixed-size type (a blob, most often) is skipped whole.
        if (w !== undefined) {
          this.steps -= n;
          return void r.bytes(n * w);
        }
        for (let i = 0; i < n; i++) this.value(e.refs[0], depth + 1);
        return;
      }
      case RECORD:
        for (const f of e.refs) this.value(f, depth + 1);
        return;
      case VARIANT: {
        const i = r.leb();
        if (i >= e.refs.length) throw new CandidGuardError(`Candid variant index ${i} out of range`);
        return this.value(e.refs[i], depth + 1);
      }
      case FUNC:
        this.reference();
        this.principal();
        return void r.bytes(r.leb());
      case SERVICE:
        this.reference();
        return this.principal();
    }
  }

  private principal(): void {
    this.reference();
    this.r.bytes(this.r.leb());
  }

  /** The flag of a principal, service or function value: 1, as opaque references are not supported. */
  private reference(): void {
    if (this.r.byte() !== 1) throw new CandidGuardError('opaque Candid references are not accepted');
  }
}

/** Reads a message front to back; every read is bounded, none can run past the end. */
class Reader {
  private at = 0;

  constructor(private readonly buf: Uint8Array) {}

  byte(): number {
    if (this.at >= this.buf.length) throw new CandidGuardError('Candid message ends early');
    return this.buf[this.at++];
  }

  bytes(n: number): Uint8Array {
    if (n > this.buf.length - this.at) throw new CandidGuardError('Candid message ends early');
    return this.buf.subarray(this.at, (this.at += n));
  }

  /** An unsigned LEB128 number of at most 10 bytes; beyond 2^53 it is inexact but still out of every range it is checked against. */
  leb(): number {
    return this.leb128(false);
  }

  /** A signed LEB128 number of at most 10 bytes. */
  sleb(): number {
    return this.leb128(true);
  }

  private leb128(signed: boolean): number {
    const start = this.at;
    while (this.byte() >= 0x80) {
      if (this.at - start === MAX_LEB_BYTES) throw new CandidGuardError(`Candid LEB128 number longer than ${MAX_LEB_BYTES} bytes`);
    }
    const n = this.at - start;
    const last = this.buf[this.at - 1];
    // Up to 7 bytes (49 bits) a float is exact; longer ones, rare, go through BigInt.
    if (n <= 7) {
      let value = 0;
      for (let i = n - 1; i >= 0; i--) value = value * 128 + (this.buf[start + i] & 0x7f);
      return signed && last & 0x40 ? value - 2 ** (7 * n) : value;
    }
    let value = 0n;
    for (let i = n - 1; i >= 0; i--) value = (value << 7n) | BigInt(this.buf[start + i] & 0x7f);
    return Number(signed && last & 0x40 ? value - (1n << BigInt(7 * n)) : value);
  }

  /** Skips a `nat` or `int` value, refusing one longer than MAX_NUMBER_BYTES. */
  number(): void {
    for (let i = 0; i < MAX_NUMBER_BYTES; i++) if (this.byte() < 0x80) return;
    throw new CandidGuardError(`Candid nat or int longer than ${MAX_NUMBER_BYTES} bytes is not accepted`);
  }
}

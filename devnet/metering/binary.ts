// Reading and writing the Wasm binary format: bounded LEB128 readers (so garbage
// fails fast instead of looping or overrunning), a growable byte buffer, and the
// section list with the order the spec requires.

/** A module the devnet cannot take; the message is one line, fit for IC0505. */
export class WasmError extends Error {}

const NAME_DECODER = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export class Reader {
  constructor(readonly b: Uint8Array, public p: number, readonly end: number = b.length) {}
  byte(): number {
    if (this.p >= this.end) throw new WasmError(`wasm module is truncated at byte ${this.p}`);
    return this.b[this.p++];
  }
  u32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const x = this.byte();
      result += (x & 0x7f) * 2 ** shift;
      if (!(x & 0x80)) {
        if (result > 0xffffffff) break;
        return result;
      }
    }
    throw new WasmError(`bad LEB128 number at byte ${this.p} of the wasm module`);
  }
  /** Skips a signed LEB128 of at most `bits` bits. */
  skipSigned(bits: number): void {
    const max = Math.ceil(bits / 7);
    for (let i = 0; i < max; i++) if (!(this.byte() & 0x80)) return;
    throw new WasmError(`bad LEB128 number at byte ${this.p} of the wasm module`);
  }
  skip(n: number): void {
    if (this.p + n > this.end) throw new WasmError(`wasm module is truncated at byte ${this.p}`);
    this.p += n;
  }
  /** A name as the Wasm spec reads it: UTF-8, invalid bytes refused, a leading BOM kept as a character. */
  name(): string {
    const n = this.u32();
    const start = this.p;
    this.skip(n);
    try {
      return NAME_DECODER.decode(this.b.subarray(start, start + n));
    } catch {
      throw new WasmError(`the name at byte ${start} of the wasm module is not valid UTF-8`);
    }
  }
}

/** A byte buffer that doubles as it fills. */
export class Writer {
  private buf: Uint8Array<ArrayBuffer>;
  length = 0;
  constructor(capacity = 1024) {
    this.buf = new Uint8Array(capacity);
  }
  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  byte(x: number): void {
    this.room(1);
    this.buf[this.length++] = x;
  }
  bytes(src: Uint8Array): void {
    this.room(src.length);
    this.buf.set(src, this.length);
    this.length += src.length;
  }
  u32(n: number): void {
    this.room(5);
    do {
      let x = n & 0x7f;
      n = Math.floor(n / 128);
      if (n > 0) x |= 0x80;
      this.buf[this.length++] = x;
    } while (n > 0);
  }
  /** Signed LEB128 of a non-negative integer up to 2^53. */
  sNonNegative(n: number): void {
    this.room(10);
    for (;;) {
      const x = n % 128;
      n = Math.floor(n / 128);
      if (n === 0 && !(x & 0x40)) {
        this.buf[this.length++] = x;
        return;
      }
      this.buf[this.length++] = x | 0x80;
    }
  }
  name(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u32(b.length);
    this.bytes(b);
  }
  /** Appends `body` as a section with the given id. */
  section(id: number, body: Writer): void {
    this.byte(id);
    this.u32(body.length);
    this.bytes(body.view());
  }
  view(): Uint8Array<ArrayBuffer> {
    return this.buf.subarray(0, this.length);
  }
  reset(): void {
    this.length = 0;
  }
}

export interface Section {
  id: number;
  /** Where the section's header (id byte) starts, and its payload's bounds. */
  header: number;
  start: number;
  end: number;
}

export const SEC = {
  custom: 0, type: 1, import: 2, function: 3, table: 4, memory: 5, global: 6, export: 7,
  start: 8, element: 9, code: 10, data: 11, datacount: 12, tag: 13,
} as const;

/** Position of each non-custom section in the order the spec requires. */
export const SECTION_RANK: Record<number, number> = {
  1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13,
};

/** Splits a module into its sections, refusing bad magic, versions and section order. */
export function sections(b: Uint8Array): Section[] {
  if (b.length < 8 || b[0] !== 0 || b[1] !== 0x61 || b[2] !== 0x73 || b[3] !== 0x6d) {
    throw new WasmError('not a wasm module (bad magic)');
  }
  if (b[4] !== 1 || b[5] !== 0 || b[6] !== 0 || b[7] !== 0) {
    throw new WasmError('unsupported wasm binary version (only core modules, version 1, can be installed)');
  }
  const r = new Reader(b, 8);
  const out: Section[] = [];
  let rank = 0;
  while (r.p < b.length) {
    const header = r.p;
    const id = r.byte();
    const size = r.u32();
    const start = r.p;
    if (start + size > b.length) throw new WasmError(`wasm section ${id} at byte ${header} is truncated`);
    if (id !== SEC.custom) {
      const next = SECTION_RANK[id];
      if (next === undefined) throw new WasmError(`unknown wasm section id ${id} at byte ${header}`);
      if (next <= rank) throw new WasmError(`wasm section ${id} at byte ${header} is duplicated or out of order`);
      rank = next;
    }
    out.push({ id, header, start, end: start + size });
    r.p = start + size;
  }
  return out;
}

/** Skips a constant expression (global initialisers), up to and including its `end`. */
export function skipConstExpr(r: Reader): void {
  for (;;) {
    const op = r.byte();
    switch (op) {
      case 0x0b: return;
      case 0x41: r.skipSigned(32); break;
      case 0x42: r.skipSigned(64); break;
      case 0x23: case 0xd2: r.u32(); break;
      case 0x43: r.skip(4); break;
      case 0x44: r.skip(8); break;
      case 0xd0: r.byte(); break;
      // Extended constant expressions: i32/i64 add, sub, mul.
      case 0x6a: case 0x6b: case 0x6c: case 0x7c: case 0x7d: case 0x7e: break;
      default: throw new WasmError(`unsupported constant expression opcode 0x${op.toString(16)} at byte ${r.p - 1}`);
    }
  }
}

/** Skips table or memory limits; returns their flags byte. */
export function skipLimits(r: Reader): number {
  const flags = r.byte();
  r.u32();
  if (flags & 1) r.u32();
  return flags;
}

export interface ImportCounts { funcs: number; tables: number; memories: number; globals: number; memoryFlags: number[] }

/** Counts the import section's entries by kind (they come before the defined ones in each index space). */
export function countImports(b: Uint8Array, s: Section | undefined): ImportCounts {
  const c: ImportCounts = { funcs: 0, tables: 0, memories: 0, globals: 0, memoryFlags: [] };
  if (!s) return c;
  const r = new Reader(b, s.start, s.end);
  for (let n = r.u32(); n > 0; n--) {
    r.skip(r.u32());
    r.skip(r.u32());
    const kind = r.byte();
    if (kind === 0) { r.u32(); c.funcs++; }
    else if (kind === 1) { r.byte(); skipLimits(r); c.tables++; }
    else if (kind === 2) { c.memoryFlags.push(skipLimits(r)); c.memories++; }
    else if (kind === 3) { r.byte(); r.byte(); c.globals++; }
    else if (kind === 4) throw new WasmError('wasm exception handling (tag imports) is not supported by the devnet');
    else throw new WasmError(`unknown import kind ${kind} in the wasm module`);
  }
  return c;
}

// Prepares a canister module for Node's WebAssembly. The IC calls callbacks
// through the module's function table and rolls globals back on a trap; JS can
// do neither unless the module exports them, so we add those exports.
import { gunzipSync } from 'node:zlib';

export const TABLE_EXPORT = '__icboot_table';
export const GLOBAL_EXPORT_PREFIX = '__icboot_global_';

export class WasmError extends Error {}

function isGzip(bytes: Uint8Array): boolean {
  return bytes[0] === 0x1f && bytes[1] === 0x8b && bytes[2] === 0x08;
}

function decompress(bytes: Uint8Array): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return new Uint8Array(gunzipSync(bytes, { maxOutputLength: 256 * 1024 * 1024 }));
  } catch (e) {
    throw new WasmError(`wasm module is not valid gzip: ${(e as Error).message}`);
  }
}

class Reader {
  constructor(readonly b: Uint8Array, public p = 0) {}
  byte(): number {
    if (this.p >= this.b.length) throw new WasmError('truncated wasm module');
    return this.b[this.p++];
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const x = this.byte();
      result += (x & 0x7f) * 2 ** shift;
      if (!(x & 0x80)) return result;
      shift += 7;
      if (shift > 35) throw new WasmError('bad LEB128 in wasm module');
    }
  }
  skipLeb(): void {
    while (this.byte() & 0x80);
  }
  skip(n: number): void {
    this.p += n;
  }
}

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

function skipConstExpr(r: Reader): void {
  for (;;) {
    const op = r.byte();
    switch (op) {
      case 0x0b: return;
      case 0x41: case 0x42: case 0x23: case 0xd2: r.skipLeb(); break;
      case 0x43: r.skip(4); break;
      case 0x44: r.skip(8); break;
      case 0xd0: r.byte(); break;
      case 0x6a: case 0x6b: case 0x6c: case 0x7c: case 0x7d: case 0x7e: break;
      default: throw new WasmError(`unsupported constant expression opcode 0x${op.toString(16)}`);
    }
  }
}

interface Section { id: number; start: number; end: number }

function sections(b: Uint8Array): Section[] {
  if (b.length < 8 || b[0] !== 0 || b[1] !== 0x61 || b[2] !== 0x73 || b[3] !== 0x6d) {
    throw new WasmError('not a wasm module (bad magic)');
  }
  const r = new Reader(b, 8);
  const out: Section[] = [];
  while (r.p < b.length) {
    const id = r.byte();
    const size = r.u32();
    const start = r.p;
    if (start + size > b.length) throw new WasmError('truncated wasm section');
    out.push({ id, start, end: start + size });
    r.p = start + size;
  }
  return out;
}

/** Returns the module with its table and mutable globals exported. */
function exportInternals(b: Uint8Array): Uint8Array {
  const secs = sections(b);
  let importedTables = 0;
  let importedGlobals = 0;
  let tables = 0;
  const mutableGlobals: number[] = [];
  for (const s of secs) {
    const r = new Reader(b, s.start);
    if (s.id === 2) {
      for (let n = r.u32(); n > 0; n--) {
        r.skip(r.u32());
        r.skip(r.u32());
        const kind = r.byte();
        if (kind === 0) r.u32();
        else if (kind === 1) { r.byte(); const f = r.byte(); r.u32(); if (f & 1) r.u32(); importedTables++; }
        else if (kind === 2) { const f = r.byte(); r.u32(); if (f & 1) r.u32(); }
        else if (kind === 3) { r.byte(); r.byte(); importedGlobals++; }
        else throw new WasmError(`unknown import kind ${kind}`);
      }
    } else if (s.id === 4) {
      tables = r.u32();
    } else if (s.id === 6) {
      const n = r.u32();
      for (let i = 0; i < n; i++) {
        r.byte();
        if (r.byte() === 1) mutableGlobals.push(importedGlobals + i);
        skipConstExpr(r);
      }
    }
  }
  const extra: number[] = [];
  let added = 0;
  const addExport = (name: string, kind: number, index: number): void => {
    const nameBytes = new TextEncoder().encode(name);
    extra.push(...leb(nameBytes.length), ...nameBytes, kind, ...leb(index));
    added++;
  };
  if (importedTables + tables > 0) addExport(TABLE_EXPORT, 1, 0);
  for (const g of mutableGlobals) addExport(GLOBAL_EXPORT_PREFIX + g, 3, g);
  if (added === 0) return b;

  const exportSec = secs.find((s) => s.id === 7);
  let body: number[];
  let before: number;
  let after: number;
  if (exportSec) {
    const r = new Reader(b, exportSec.start);
    const count = r.u32();
    body = [...leb(count + added), ...b.subarray(r.p, exportSec.end), ...extra];
    // Section header: id byte then LEB size, both before exportSec.start.
    before = exportSec.start - 1 - leb(exportSec.end - exportSec.start).length;
    after = exportSec.end;
  } else {
    body = [...leb(added), ...extra];
    // Sections after exports, in their required order: start, elem, datacount, code, data.
    const next = secs.find((s) => [8, 9, 10, 11, 12].includes(s.id));
    before = next ? next.start - 1 - leb(next.end - next.start).length : b.length;
    after = before;
  }
  const header = [7, ...leb(body.length)];
  const out = new Uint8Array(before + header.length + body.length + (b.length - after));
  out.set(b.subarray(0, before), 0);
  out.set(header, before);
  out.set(body, before + header.length);
  out.set(b.subarray(after), before + header.length + body.length);
  return out;
}

/** Compiles a canister module (raw or gzipped) ready for the host. */
export function compileCanisterModule(bytes: Uint8Array): WebAssembly.Module {
  const raw = decompress(bytes);
  try {
    return new WebAssembly.Module(exportInternals(raw) as Uint8Array<ArrayBuffer>);
  } catch (e) {
    if (e instanceof WasmError) throw e;
    throw new WasmError(`invalid wasm module: ${(e as Error).message}`);
  }
}

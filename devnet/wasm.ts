// Prepares a canister module for Node's WebAssembly. The IC calls callbacks
// through the module's function table and rolls globals back on a trap; JS can
// do neither unless the module exports them, so we add those exports. With
// metering on, the module is first rewritten to count instructions (metering/).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { writeAtomic } from '../common/write_atomic.ts';
import { countImports, Reader, sections, SEC, skipConstExpr, WasmError, Writer, type Section } from './metering/binary.ts';
import { COUNTER_EXPORT, METERING_VERSION, meter, START_EXPORT, type Metered } from './metering/instrument.ts';
import { readMetadata, type MetadataSection } from './wasm_metadata.ts';

export { COUNTER_EXPORT, START_EXPORT, WasmError };
export const TABLE_EXPORT = '__icboot_table';
export const GLOBAL_EXPORT_PREFIX = '__icboot_global_';
/** What the replica charges to compile one instruction of the (instrumented) module (rs/config embedders.rs). */
export const COMPILE_INSTRUCTION_COST = 6000n;

export interface CanisterModule {
  module: WebAssembly.Module;
  /** Instructions the replica charges for compiling it (6,000 per Wasm instruction of the instrumented module,
   *  as rs/config embedders cost_to_compile_wasm_instruction), counted against the install limit; 0n when unmetered. */
  compileInstructions: bigint;
  metered: boolean;
  /** Length of the uncompressed module as installed, and of its custom sections (for canister_status memory metrics). */
  wasmBytes: number;
  customSectionBytes: number;
  /** The `icp:public` and `icp:private` custom sections, by name. */
  metadata: Map<string, MetadataSection>;
}

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

/** The index of the global exported as the instruction counter, if any. */
function counterGlobal(b: Uint8Array, s: Section | undefined): number | undefined {
  if (!s) return undefined;
  const r = new Reader(b, s.start, s.end);
  for (let n = r.u32(); n > 0; n--) {
    const name = r.name();
    const kind = r.byte();
    const index = r.u32();
    if (kind === 3 && name === COUNTER_EXPORT) return index;
  }
  return undefined;
}

const AFTER_EXPORTS = new Set<number>([SEC.start, SEC.element, SEC.datacount, SEC.code, SEC.data]);

/** Returns the module with its table and mutable globals (but not the instruction counter) exported. */
function exportInternals(b: Uint8Array): Uint8Array {
  const secs = sections(b);
  const find = (id: number): Section | undefined => secs.find((s) => s.id === id);
  const imports = countImports(b, find(SEC.import));
  const tableSec = find(SEC.table);
  const tables = imports.tables + (tableSec ? new Reader(b, tableSec.start, tableSec.end).u32() : 0);
  const counter = counterGlobal(b, find(SEC.export));
  const mutableGlobals: number[] = [];
  const globalSec = find(SEC.global);
  if (globalSec) {
    const r = new Reader(b, globalSec.start, globalSec.end);
    const n = r.u32();
    for (let i = 0; i < n; i++) {
      r.byte();
      const index = imports.globals + i;
      if (r.byte() === 1 && index !== counter) mutableGlobals.push(index);
      skipConstExpr(r);
    }
  }
  const extra = new Writer();
  let added = 0;
  const addExport = (name: string, kind: number, index: number): void => {
    extra.name(name);
    extra.byte(kind);
    extra.u32(index);
    added++;
  };
  if (tables > 0) addExport(TABLE_EXPORT, 1, 0);
  for (const g of mutableGlobals) addExport(GLOBAL_EXPORT_PREFIX + g, 3, g);
  if (added === 0) return b;

  const exportSec = find(SEC.export);
  const body = new Writer();
  let before: number;
  let after: number;
  if (exportSec) {
    const r = new Reader(b, exportSec.start, exportSec.end);
    body.u32(r.u32() + added);
    body.bytes(b.subarray(r.p, exportSec.end));
    before = exportSec.header;
    after = exportSec.end;
  } else {
    // Sections after exports, in their required order: start, elem, datacount, code, data.
    const next = secs.find((s) => AFTER_EXPORTS.has(s.id));
    before = next ? next.header : b.length;
    after = before;
    body.u32(added);
  }
  body.bytes(extra.view());
  const out = new Writer(b.length + body.length + 8);
  out.bytes(b.subarray(0, before));
  out.section(SEC.export, body);
  out.bytes(b.subarray(after));
  return out.view();
}

function sha256(b: Uint8Array): Buffer {
  return createHash('sha256').update(b).digest();
}

// Cache file: sha256 of the rest (so a damaged file is recomputed, never trusted),
// the instruction count (u64 LE), then the metered module.
const CACHE_HEADER = 40;

function readCache(path: string): Metered | undefined {
  let file: Buffer;
  try {
    file = readFileSync(path);
  } catch {
    return undefined; // not cached yet
  }
  if (file.length < CACHE_HEADER || !sha256(file.subarray(32)).equals(file.subarray(0, 32))) return undefined;
  return { bytes: new Uint8Array(file.subarray(CACHE_HEADER)), instructions: Number(file.readBigUInt64LE(32)) };
}

function writeCache(path: string, bytes: Uint8Array, instructions: number): void {
  const rest = Buffer.alloc(8 + bytes.length);
  rest.writeBigUInt64LE(BigInt(instructions), 0);
  rest.set(bytes, 8);
  writeAtomic(path, Buffer.concat([sha256(rest), rest]));
}

/** Meters a module, through the on-disk cache when there is one. */
function meterCached(raw: Uint8Array, cacheDir: string | undefined): Metered {
  if (!cacheDir) return meter(raw);
  const path = join(cacheDir, `${sha256(raw).toString('hex')}.metered-v${METERING_VERSION}.bin`);
  const hit = readCache(path);
  if (hit) return hit;
  const metered = meter(raw);
  try {
    mkdirSync(cacheDir, { recursive: true });
    writeCache(path, metered.bytes, metered.instructions);
  } catch {
    // The cache only saves time: a module that cannot be kept is metered again next time.
  }
  return metered;
}

/**
 * Compiles a canister module (raw or gzipped) ready for the host, enforcing
 * the replica's metadata rules unless `restoring`: a module restored from disk
 * was checked when it was installed, by the rules of that day.
 */
export function compileCanisterModule(bytes: Uint8Array, opts: { metering: boolean; cacheDir?: string; restoring?: boolean }): CanisterModule {
  const raw = decompress(bytes);
  const metadata = readMetadata(raw, !opts.restoring);
  const customSectionBytes = sections(raw)
    .filter((s) => s.id === SEC.custom)
    .reduce((n, s) => n + (s.end - s.start), 0);
  const prepared = opts.metering ? meterCached(raw, opts.cacheDir) : { bytes: raw, instructions: 0 };
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(exportInternals(prepared.bytes) as Uint8Array<ArrayBuffer>);
  } catch (e) {
    if (e instanceof WasmError) throw e;
    throw new WasmError(`invalid wasm module: ${(e as Error).message}`);
  }
  return {
    module,
    compileInstructions: COMPILE_INSTRUCTION_COST * BigInt(prepared.instructions),
    metered: opts.metering,
    wasmBytes: raw.length,
    customSectionBytes,
    metadata,
  };
}

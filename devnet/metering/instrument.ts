// The replica's instruction metering, as a rewrite of the module's binary
// (dfinity/ic rs/embedders/src/wasm_utils/instrumentation.rs, `injections` and
// `inject_metering`). Differences, chosen so that no index shifts: running out is
// an `unreachable` (the host sees a trap with the counter below zero) instead of
// a call to an imported helper, and the counter and the decrement function are
// appended after everything the module defines.
import { countImports, Reader, sections, SEC, SECTION_RANK, skipConstExpr, skipLimits, WasmError, Writer, type Section } from './binary.ts';
import { cost, flow, Flow, readInstruction } from './opcodes.ts';

/** The exported i64 global the host sets to the budget; instructions used = budget − counter. */
export const COUNTER_EXPORT = '__icboot_instructions';
/** The module's start function, which the host runs metered at install. */
export const START_EXPORT = 'canister_start';
/** Bump whenever the rewrite's output changes, so cached rewrites are not reused. */
export const METERING_VERSION = 1;

export interface Metered {
  bytes: Uint8Array<ArrayBuffer>;
  /** Instructions in the metered module's code, injected ones included. */
  instructions: number;
}

const I64 = 0x7e;
const OP = {
  unreachable: 0x00, if: 0x04, else: 0x05, end: 0x0b, call: 0x10, localGet: 0x20, localTee: 0x22,
  globalGet: 0x23, globalSet: 0x24, i64Const: 0x42, i64LtS: 0x53, i64GtS: 0x55, i64Sub: 0x7d,
  i32WrapI64: 0xa7, i64ExtendI32U: 0xad, void: 0x40,
} as const;
const I64_MIN = new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f]);
// Instructions in each injected sequence, for the compile cost.
const STATIC_OPS = 4;
const CHECK_OPS = 6;
const DYNAMIC_OPS = 3;
const DECREMENT_OPS = 20;

/** Growable list of injection points of one function body. */
class Points {
  pos = new Int32Array(256);
  cost = new Float64Array(256);
  reentrant = new Uint8Array(256);
  n = 0;
  push(pos: number, c: number, reentrant: boolean): void {
    if (this.n === this.pos.length) {
      const grow = <T extends Int32Array | Float64Array | Uint8Array>(a: T, b: T): T => (b.set(a), b);
      this.pos = grow(this.pos, new Int32Array(this.n * 2));
      this.cost = grow(this.cost, new Float64Array(this.n * 2));
      this.reentrant = grow(this.reentrant, new Uint8Array(this.n * 2));
    }
    this.pos[this.n] = pos;
    this.cost[this.n] = c;
    this.reentrant[this.n] = reentrant ? 1 : 0;
    this.n++;
  }
}

class BodyRewriter {
  private readonly blocks = new Points();
  private readonly dynamic = new Points();
  private readonly body = new Writer(1 << 16);
  instructions = 0;
  constructor(private readonly b: Uint8Array, private readonly counter: number, private readonly decrement: number) {}

  /** Rewrites the function body at [start, end) into `out`, size prefix included. */
  rewrite(start: number, end: number, out: Writer): void {
    const { b, blocks, dynamic, body } = this;
    const r = new Reader(b, start, end);
    for (let groups = r.u32(); groups > 0; groups--) {
      r.u32();
      r.byte();
    }
    const codeStart = r.p;
    blocks.n = 0;
    dynamic.n = 0;
    // The replica's basic blocks: the entry block costs 1 extra so that even an
    // empty function costs something; a block is charged in full where it starts.
    let at = codeStart;
    let acc = 1;
    let reentrant = true;
    let count = 0;
    const close = (next: boolean): void => {
      if (reentrant || acc > 0) blocks.push(at, acc, reentrant);
      at = r.p;
      acc = 0;
      reentrant = next;
    };
    while (r.p < end) {
      const opAt = r.p;
      const key = readInstruction(r);
      count++;
      acc += cost(key);
      switch (flow(key)) {
        case Flow.Loop: close(true); break;
        case Flow.If: close(false); break;
        case Flow.End: close(false); break;
        case Flow.Dynamic: dynamic.push(opAt, 0, false); break;
      }
    }

    body.reset();
    body.bytes(b.subarray(start, codeStart));
    let copied = codeStart;
    let i = 0;
    let j = 0;
    // Merge both point lists by position; at equal positions the dynamic charge goes
    // first, as in the replica (its stable sort keeps the order the points were found).
    while (i < blocks.n || j < dynamic.n) {
      const dyn = j < dynamic.n && (i >= blocks.n || dynamic.pos[j] <= blocks.pos[i]);
      const pos = dyn ? dynamic.pos[j] : blocks.pos[i];
      body.bytes(b.subarray(copied, pos));
      copied = pos;
      if (dyn) {
        this.emitDynamic();
        count += DYNAMIC_OPS;
        j++;
      } else {
        this.emitStatic(blocks.cost[i], blocks.reentrant[i] === 1);
        count += STATIC_OPS + (blocks.reentrant[i] ? CHECK_OPS : 0);
        i++;
      }
    }
    body.bytes(b.subarray(copied, end));
    out.u32(body.length);
    out.bytes(body.view());
    this.instructions += count;
  }

  private emitStatic(c: number, check: boolean): void {
    const { body, counter } = this;
    body.byte(OP.globalGet);
    body.u32(counter);
    body.byte(OP.i64Const);
    body.sNonNegative(c);
    body.byte(OP.i64Sub);
    body.byte(OP.globalSet);
    body.u32(counter);
    if (check) {
      body.byte(OP.globalGet);
      body.u32(counter);
      body.byte(OP.i64Const);
      body.byte(0);
      body.byte(OP.i64LtS);
      body.byte(OP.if);
      body.byte(OP.void);
      body.byte(OP.unreachable);
      body.byte(OP.end);
    }
  }

  /** Charges the i32 length on top of the stack, leaving it in place. */
  private emitDynamic(): void {
    this.body.byte(OP.i64ExtendI32U);
    this.body.byte(OP.call);
    this.body.u32(this.decrement);
    this.body.byte(OP.i32WrapI64);
  }
}

/** (param $n i64) (result i64) (local $new i64): counter −= n, saturating at i64::MIN; trap if below 0; return n. */
function decrementBody(counter: number): Writer {
  const w = new Writer(64);
  w.u32(1); // one group of locals
  w.u32(1);
  w.byte(I64);
  const get = (): void => { w.byte(OP.globalGet); w.u32(counter); };
  get(); w.byte(OP.localGet); w.u32(0); w.byte(OP.i64Sub); w.byte(OP.localTee); w.u32(1);
  get(); w.byte(OP.i64GtS); // a subtraction of n ≥ 0 that wrapped around
  w.byte(OP.if); w.byte(I64); w.byte(OP.i64Const); w.bytes(I64_MIN);
  w.byte(OP.else); w.byte(OP.localGet); w.u32(1); w.byte(OP.end);
  w.byte(OP.globalSet); w.u32(counter);
  get(); w.byte(OP.i64Const); w.byte(0); w.byte(OP.i64LtS);
  w.byte(OP.if); w.byte(OP.void); w.byte(OP.unreachable); w.byte(OP.end);
  w.byte(OP.localGet); w.u32(0); w.byte(OP.end);
  return w;
}

function vecCount(b: Uint8Array, s: Section | undefined): { count: number; rest: number } {
  if (!s) return { count: 0, rest: 0 };
  const r = new Reader(b, s.start, s.end);
  return { count: r.u32(), rest: r.p };
}

/** Checks the memories are ones the devnet can run: at most one, 32-bit, not shared. */
function checkMemories(b: Uint8Array, s: Section | undefined, imported: number[]): void {
  const flags = [...imported];
  if (s) {
    const r = new Reader(b, s.start, s.end);
    for (let n = r.u32(); n > 0; n--) flags.push(skipLimits(r));
  }
  if (flags.length > 1) throw new WasmError('modules with more than one memory are not supported by the devnet');
  if (flags.some((f) => f & 0x04)) throw new WasmError('64-bit memories (memory64) are not supported by the devnet');
  if (flags.some((f) => f & 0x02)) throw new WasmError('shared memories (threads) are not supported by the devnet');
}

/** Export names the rewrite adds; a module exporting them itself would confuse the host. */
function checkExportNames(b: Uint8Array, s: Section | undefined): void {
  if (!s) return;
  const r = new Reader(b, s.start, s.end);
  for (let n = r.u32(); n > 0; n--) {
    const name = r.name();
    if (name === COUNTER_EXPORT || name === START_EXPORT) {
      throw new WasmError(`the module exports ${name}, a name reserved for the system; rename that export`);
    }
    r.byte();
    r.u32();
  }
}

/** Adds instruction metering to a raw (uncompressed) module. */
export function meter(raw: Uint8Array): Metered {
  const secs = sections(raw);
  const find = (id: number): Section | undefined => secs.find((s) => s.id === id);
  if (find(SEC.tag)) throw new WasmError('wasm exception handling (tag section) is not supported by the devnet');
  const imports = countImports(raw, find(SEC.import));
  checkMemories(raw, find(SEC.memory), imports.memoryFlags);
  checkExportNames(raw, find(SEC.export));

  const types = vecCount(raw, find(SEC.type));
  const funcs = vecCount(raw, find(SEC.function));
  const globals = vecCount(raw, find(SEC.global));
  const exports = vecCount(raw, find(SEC.export));
  const counter = imports.globals + globals.count;
  const decrement = imports.funcs + funcs.count;
  const start = find(SEC.start);
  const startFunc = start ? new Reader(raw, start.start, start.end).u32() : undefined;
  if (globals.count > 0) {
    // Only to reject malformed initialisers here rather than mid-rewrite.
    const r = new Reader(raw, globals.rest, find(SEC.global)!.end);
    for (let n = globals.count; n > 0; n--) { r.byte(); r.byte(); skipConstExpr(r); }
  }

  const rewriter = new BodyRewriter(raw, counter, decrement);
  // Each rewritten section: what it becomes, given the original (absent ones are added).
  const rebuild: Record<number, (s: Section | undefined) => Writer | undefined> = {
    [SEC.type]: (s) => {
      const w = new Writer();
      w.u32(types.count + 1);
      if (s) w.bytes(raw.subarray(types.rest, s.end));
      w.bytes(new Uint8Array([0x60, 1, I64, 1, I64]));
      return w;
    },
    [SEC.function]: (s) => {
      const w = new Writer();
      w.u32(funcs.count + 1);
      if (s) w.bytes(raw.subarray(funcs.rest, s.end));
      w.u32(types.count);
      return w;
    },
    [SEC.global]: (s) => {
      const w = new Writer();
      w.u32(globals.count + 1);
      if (s) w.bytes(raw.subarray(globals.rest, s.end));
      w.bytes(new Uint8Array([I64, 1, OP.i64Const, 0, OP.end]));
      return w;
    },
    [SEC.export]: (s) => {
      const w = new Writer();
      w.u32(exports.count + 1 + (startFunc === undefined ? 0 : 1));
      if (s) w.bytes(raw.subarray(exports.rest, s.end));
      w.name(COUNTER_EXPORT);
      w.byte(3);
      w.u32(counter);
      if (startFunc !== undefined) {
        w.name(START_EXPORT);
        w.byte(0);
        w.u32(startFunc);
      }
      return w;
    },
    [SEC.start]: () => undefined,
    [SEC.code]: (s) => {
      const w = new Writer(s ? Math.ceil((s.end - s.start) * 1.3) : 64);
      const r = s ? new Reader(raw, s.start, s.end) : undefined;
      const n = r ? r.u32() : 0;
      w.u32(n + 1);
      for (let f = 0; f < n; f++) {
        const size = r!.u32();
        const bodyStart = r!.p;
        r!.skip(size);
        rewriter.rewrite(bodyStart, bodyStart + size, w);
      }
      if (r && r.p !== s!.end) throw new WasmError('the wasm code section has trailing bytes');
      const d = decrementBody(counter);
      w.u32(d.length);
      w.bytes(d.view());
      return w;
    },
  };
  const pending = [SEC.type, SEC.function, SEC.global, SEC.export, SEC.code].filter((id) => !find(id));
  const out = new Writer(Math.ceil(raw.length * 1.3));
  out.bytes(raw.subarray(0, 8));
  const addMissingBefore = (rank: number): void => {
    while (pending.length > 0 && SECTION_RANK[pending[0]] < rank) {
      const id = pending.shift()!;
      out.section(id, rebuild[id](undefined)!);
    }
  };
  for (const s of secs) {
    if (s.id !== SEC.custom) addMissingBefore(SECTION_RANK[s.id]);
    const change = rebuild[s.id];
    if (!change) {
      out.bytes(raw.subarray(s.header, s.end));
      continue;
    }
    const w = change(s);
    if (w) out.section(s.id, w);
  }
  addMissingBefore(Infinity);
  return { bytes: out.view().slice(), instructions: rewriter.instructions + DECREMENT_OPS };
}

// The instructions the devnet can meter, with the replica's cost of each
// (instruction_to_cost in dfinity/ic rs/embedders/src/wasm_utils/instrumentation.rs,
// Wasm32 column, read at commit 002d5530 and the newest stored version: same table).
// This table is also the allow-list: the decoder knows an instruction's immediates
// only through its entry here, so an instruction without a cost cannot be decoded.
import { Reader, WasmError } from './binary.ts';

/** How an instruction affects basic blocks (the replica's `injections`). */
export const Flow = {
  Plain: 0,
  /** Starts a re-entrant block: counted and checked on every iteration. */
  Loop: 1,
  /** Starts the then-branch, a block that is only counted. */
  If: 2,
  /** Ends the current block (else, br, br_if, br_table, end, return, unreachable). */
  End: 3,
  /** Also costs one per byte or element of its top-of-stack i32 operand. */
  Dynamic: 4,
} as const;

/** Immediate operand layouts. Mem, Mem2 and DataMem: one memory index (memory.size/grow/fill),
 *  two (memory.copy), or a data index and one (memory.init). */
const Imm = {
  None: 0, BlockType: 1, U32: 2, U32x2: 3, BrTable: 4, MemArg: 5, I32: 6, I64: 7, F32: 8, F64: 9,
  RefType: 10, SelectTypes: 11, Mem: 12, Mem2: 13, DataMem: 14,
} as const;

/** Instruction keys: the opcode byte, or 256 + sub-opcode for the 0xfc prefix. */
const KEYS = 256 + 18;
const COST = new Int16Array(KEYS).fill(-1);
const IMM = new Uint8Array(KEYS);
const FLOW = new Uint8Array(KEYS);

function def(keys: number | number[], cost: number, imm: number = Imm.None, flow: number = Flow.Plain): void {
  for (const k of typeof keys === 'number' ? [keys] : keys) {
    COST[k] = cost;
    IMM[k] = imm;
    FLOW[k] = flow;
  }
}
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const fc = (sub: number): number => 256 + sub;

// Control.
def(0x00, 1, Imm.None, Flow.End); // unreachable
def(0x01, 1); // nop
def(0x02, 0, Imm.BlockType); // block
def(0x03, 0, Imm.BlockType, Flow.Loop);
def(0x04, 2, Imm.BlockType, Flow.If);
def(0x05, 0, Imm.None, Flow.End); // else
def(0x0b, 0, Imm.None, Flow.End); // end
def([0x0c, 0x0d], 2, Imm.U32, Flow.End); // br, br_if
def(0x0e, 2, Imm.BrTable, Flow.End);
def(0x0f, 1, Imm.None, Flow.End); // return
def(0x10, 5, Imm.U32); // call
def(0x11, 10, Imm.U32x2); // call_indirect
// Parametric, variables, tables.
def([0x1a, 0x1b], 1); // drop, select
def(0x1c, 1, Imm.SelectTypes);
def([0x20, 0x21, 0x22], 1, Imm.U32); // local.get/set/tee
def([0x23, 0x24], 2, Imm.U32); // global.get/set
def([0x25, 0x26], 5, Imm.U32); // table.get/set
// Memory.
def(range(0x28, 0x3e), 1, Imm.MemArg); // loads and stores
def(0x3f, 20, Imm.Mem); // memory.size
def(0x40, 300, Imm.Mem); // memory.grow
// Constants.
def(0x41, 1, Imm.I32);
def(0x42, 1, Imm.I64);
def(0x43, 1, Imm.F32);
def(0x44, 1, Imm.F64);
// Integer comparisons, eqz, clz/ctz/popcnt and arithmetic: 1, but division and remainder: 10.
def(range(0x45, 0x5a), 1);
def(range(0x67, 0x8a), 1);
def([0x6d, 0x6e, 0x6f, 0x70, 0x7f, 0x80, 0x81, 0x82], 10);
// Float comparisons.
def(range(0x5b, 0x66), 3);
// f32 then f64: abs neg ceil floor trunc nearest sqrt add sub mul div min max copysign.
for (const [base, sqrt, div, copysign] of [[0x8b, 5, 3, 2], [0x99, 8, 5, 3]]) {
  def([base, base + 1], 1);
  def([base + 2, base + 3, base + 4, base + 5, base + 7, base + 8, base + 9], 2);
  def(base + 6, sqrt);
  def(base + 10, div);
  def([base + 11, base + 12], 18);
  def(base + 13, copysign);
}
// Conversions.
def(0xa7, 1); // i32.wrap_i64
def([...range(0xa8, 0xab), ...range(0xae, 0xb1)], 20); // trapping float-to-int truncations
def([0xac, 0xad], 1); // i64.extend_i32_s/u
def([0xb2, 0xb4, 0xb7, 0xb9], 3); // convert signed ints to floats
def([0xb3, 0xb5, 0xb8, 0xba], 16); // convert unsigned ints to floats
def([0xb6, 0xbb], 1); // demote, promote
def(range(0xbc, 0xbf), 1); // reinterpret
def(range(0xc0, 0xc4), 1); // sign extension
// Reference types.
def(0xd0, 1, Imm.RefType); // ref.null
def(0xd1, 5); // ref.is_null
def(0xd2, 130, Imm.U32); // ref.func
// 0xfc prefix: saturating truncation, bulk memory, table instructions.
def(range(fc(0), fc(7)), 20);
def(fc(8), 100, Imm.DataMem, Flow.Dynamic); // memory.init
def(fc(9), 300, Imm.U32); // data.drop
def(fc(10), 100, Imm.Mem2, Flow.Dynamic); // memory.copy
def(fc(11), 100, Imm.Mem, Flow.Dynamic); // memory.fill
def(fc(12), 100, Imm.U32x2, Flow.Dynamic); // table.init
def(fc(13), 300, Imm.U32); // elem.drop
def(fc(14), 100, Imm.U32x2, Flow.Dynamic); // table.copy
def(fc(15), 300, Imm.U32); // table.grow
def(fc(16), 100, Imm.U32); // table.size
def(fc(17), 100, Imm.U32, Flow.Dynamic); // table.fill

export function cost(key: number): number {
  return COST[key];
}
export function flow(key: number): number {
  return FLOW[key];
}

/** What a refused instruction belongs to, for the error message. */
function family(op: number): string {
  if (op === 0xfd) return 'SIMD';
  if (op === 0xfe) return 'atomics';
  if (op === 0xfb) return 'GC';
  if (op === 0x12 || op === 0x13) return 'tail call';
  if (op === 0x14 || op === 0x15 || (op >= 0xd3 && op <= 0xd6)) return 'typed function references';
  if ((op >= 0x06 && op <= 0x0a) || op === 0x18 || op === 0x19 || op === 0x1f) return 'exception handling';
  return 'unknown instruction';
}

function refuse(at: number, op: number, sub?: number): never {
  const code = sub === undefined ? `0x${op.toString(16)}` : `0x${op.toString(16)} 0x${sub.toString(16)}`;
  throw new WasmError(
    `instruction ${code} (${family(op)}) at byte ${at} of the module is not supported by the devnet's metering; ` +
      'the module was not installed',
  );
}

function memIndex(r: Reader): void {
  if (r.byte() !== 0) throw new WasmError(`multiple memories (byte ${r.p - 1}) are not supported by the devnet`);
}

/** Decodes the instruction at r.p, moves past its immediates, and returns its key. */
export function readInstruction(r: Reader): number {
  const at = r.p;
  const op = r.byte();
  let key = op;
  if (op === 0xfc) {
    const sub = r.u32();
    if (sub >= 18) refuse(at, op, sub);
    key = 256 + sub;
  } else if (op === 0xfd || op === 0xfe || op === 0xfb) {
    refuse(at, op, r.u32());
  }
  if (COST[key] < 0) refuse(at, op);
  switch (IMM[key]) {
    case Imm.None: break;
    case Imm.BlockType: r.skipSigned(33); break;
    case Imm.U32: r.u32(); break;
    case Imm.U32x2: r.u32(); r.u32(); break;
    case Imm.BrTable: for (let n = r.u32(); n >= 0; n--) r.u32(); break;
    case Imm.MemArg: {
      if (r.u32() & 0x40) throw new WasmError(`multiple memories (byte ${at}) are not supported by the devnet`);
      r.u32();
      break;
    }
    case Imm.I32: r.skipSigned(32); break;
    case Imm.I64: r.skipSigned(64); break;
    case Imm.F32: r.skip(4); break;
    case Imm.F64: r.skip(8); break;
    case Imm.RefType: r.byte(); break;
    case Imm.SelectTypes: for (let n = r.u32(); n > 0; n--) r.byte(); break;
    case Imm.Mem: memIndex(r); break;
    case Imm.Mem2: memIndex(r); memIndex(r); break;
    case Imm.DataMem: r.u32(); memIndex(r); break;
  }
  return key;
}

// One canister's wasm instance. Every entry point runs as one message: heap,
// globals and stable memory are restored when it traps, and always for queries;
// its effects (reply, calls, certified data, timer) are handed back for the
// replica to apply only on success. A metered module counts down an exported
// instruction counter; running out traps, and the message fails with IC0522.
import type { StableMemory } from './stable.ts';
import type { Budget, Callback, Message, Outcome } from './message.ts';
import { instructionLimitExceeded } from './limits.ts';
import { systemApi, Trap, violation, type CanisterEnv, type Running } from './system_api.ts';
import { COUNTER_EXPORT, GLOBAL_EXPORT_PREFIX, TABLE_EXPORT } from './wasm.ts';

type Exports = WebAssembly.Exports & { memory: WebAssembly.Memory };

const WASM_PAGE = 65536;

/** Heap and globals of an instance, to undo a message. */
export interface Snapshot {
  heap: Uint8Array;
  globals: (number | bigint)[];
}

export class CanisterInstance {
  private exports!: Exports;
  private globals!: WebAssembly.Global[];
  private readonly imports: WebAssembly.Imports;
  private running: Running | null = null;

  constructor(private readonly module: WebAssembly.Module, stable: StableMemory, env: CanisterEnv) {
    this.imports = {
      ic0: systemApi({ running: () => this.running, memory: () => this.exports.memory, counter: () => this.counter, stable, env }),
    };
    this.instantiate();
  }

  /** A fresh instance of the module: new memory at its initial size, initial globals. */
  private instantiate(): void {
    let instance: WebAssembly.Instance;
    try {
      instance = new WebAssembly.Instance(this.module, this.imports);
    } catch (e) {
      if (e instanceof WebAssembly.LinkError) {
        const missing = /module="([^"]+)" function="([^"]+)"/.exec(e.message);
        throw new Error(missing
          ? `canister module imports ${missing[1]}.${missing[2]}, which the devnet does not implement`
          : `canister module cannot be linked: ${e.message}`);
      }
      throw e;
    }
    this.exports = instance.exports as Exports;
    if (!(this.exports.memory instanceof WebAssembly.Memory)) {
      throw new Error('canister module does not export its memory');
    }
    this.globals = Object.entries(this.exports)
      .filter(([name]) => name.startsWith(GLOBAL_EXPORT_PREFIX))
      .map(([, g]) => g as WebAssembly.Global);
  }

  snapshot(): Snapshot {
    return {
      heap: new Uint8Array(this.exports.memory.buffer).slice(),
      globals: this.globals.map((g) => g.value as number | bigint),
    };
  }

  /**
   * Puts heap and globals back as they were. Memory cannot shrink, and pages
   * the allocator no longer knows about would leak on every undone message that
   * grew the heap, so a grown memory is replaced by a fresh instance.
   */
  restore(s: Snapshot): void {
    if (this.exports.memory.buffer.byteLength > s.heap.length) this.instantiate();
    const memory = this.exports.memory;
    const missing = s.heap.length - memory.buffer.byteLength;
    if (missing > 0) memory.grow(missing / WASM_PAGE);
    new Uint8Array(memory.buffer).set(s.heap);
    this.globals.forEach((g, i) => { g.value = s.globals[i]; });
  }

  /** The instruction counter of a metered module; null when unmetered. */
  private get counter(): WebAssembly.Global | null {
    const g = this.exports[COUNTER_EXPORT];
    return g instanceof WebAssembly.Global ? g : null;
  }

  /** Exported mutable globals, which the IC counts in a canister's memory (8 bytes each). */
  get globalCount(): number {
    return this.globals.length;
  }

  get heapBytes(): number {
    return this.exports.memory.buffer.byteLength;
  }

  hasEntry(name: string): boolean {
    return typeof this.exports[name] === 'function';
  }

  /**
   * Runs one entry point within `budget`. The heap is restored when it traps,
   * and always when `persist` is false (queries, inspect). Stable memory is the
   * caller's: it runs the message inside a stable memory transaction.
   */
  run(msg: Message, entry: string | Callback, persist: boolean, budget: Budget): Outcome {
    const before = this.snapshot();
    const running: Running = {
      msg,
      effects: { calls: [], accepted: false, cyclesAccepted: 0n, cyclesBurned: 0n },
      reply: [],
      replySize: 0,
      budget,
      dirtyPages: new Set(),
    };
    const counter = this.counter;
    if (counter) counter.value = budget.available;
    this.running = running;
    let outcome: Outcome;
    try {
      if (typeof entry === 'string') {
        (this.exports[entry] as () => void)();
      } else {
        const table = this.exports[TABLE_EXPORT] as WebAssembly.Table | undefined;
        const fn = table?.get(entry.fun) as ((env: number) => void) | null | undefined;
        if (typeof fn !== 'function') throw violation(`callback ${entry.fun} is not in the function table`);
        fn(entry.env);
      }
      if (running.call) throw violation('call_new was not followed by call_perform');
      outcome = { ok: true, effects: running.effects, instructions: 0n };
    } catch (e) {
      outcome = toTrap(e);
    } finally {
      this.running = null;
    }
    // The counter is checked only at function entries and loop heads, so a
    // message can end past its budget without trapping: it failed all the same.
    const left = counter ? (counter.value as bigint) : budget.available;
    if (left < 0n) outcome = { ok: false, code: 'IC0522', message: instructionLimitExceeded(budget.limit), instructions: 0n };
    outcome.instructions = clamp(budget.available - left, budget.available);
    if (!outcome.ok || !persist) this.restore(before);
    return outcome;
  }
}

const clamp = (n: bigint, max: bigint): bigint => (n < 0n ? 0n : n > max ? max : n);

/** A System API trap keeps its code; anything else the module throws (wasm traps, stack overflow) is IC0502. */
function toTrap(e: unknown): Outcome {
  if (e instanceof Trap) return { ok: false, code: e.code, message: e.message, instructions: 0n };
  return { ok: false, code: 'IC0502', message: String((e as Error)?.message ?? e), instructions: 0n };
}

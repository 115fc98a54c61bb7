// One canister's wasm instance. Every entry point runs as one message: heap,
// globals and stable memory are restored when it traps, and always for queries;
// its effects (reply, calls, certified data, timer) are handed back for the
// replica to apply only on success.
import type { StableMemory } from './stable.ts';
import type { Callback, Message, Outcome } from './message.ts';
import { systemApi, Trap, violation, type CanisterEnv, type Running } from './system_api.ts';
import { GLOBAL_EXPORT_PREFIX, TABLE_EXPORT } from './wasm.ts';

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
      ic0: systemApi({ running: () => this.running, memory: () => this.exports.memory, stable, env }),
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

  get heapBytes(): number {
    return this.exports.memory.buffer.byteLength;
  }

  hasEntry(name: string): boolean {
    return typeof this.exports[name] === 'function';
  }

  /**
   * Runs one entry point. The heap is restored when it traps, and always when
   * `persist` is false (queries, inspect). Stable memory is the caller's: it
   * runs the message inside a stable memory transaction.
   */
  run(msg: Message, entry: string | Callback, persist: boolean): Outcome {
    const before = this.snapshot();
    const running: Running = {
      msg,
      effects: { calls: [], accepted: false, cyclesAccepted: 0n, cyclesBurned: 0n },
      reply: [],
      replySize: 0,
      started: process.hrtime.bigint(),
    };
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
      outcome = { ok: true, effects: running.effects };
    } catch (e) {
      outcome = toTrap(e);
    } finally {
      this.running = null;
    }
    if (!outcome.ok || !persist) this.restore(before);
    return outcome;
  }
}

/** A System API trap keeps its code; anything else the module throws (wasm traps, stack overflow) is IC0502. */
function toTrap(e: unknown): Outcome {
  if (e instanceof Trap) return { ok: false, code: e.code, message: e.message };
  return { ok: false, code: 'IC0502', message: String((e as Error)?.message ?? e) };
}

// Test-only: builds micro-modules from WAT (wabt is a dev dependency) and runs
// their metered form with plain WebAssembly, reading the instruction counter.
import wabt from 'wabt';
import { COUNTER_EXPORT, meter } from '../instrument.ts';

const tools = await wabt();

/** Assembles WAT with every feature wabt knows, so refusals come from the metering, not from wabt. */
export function wat(source: string): Uint8Array {
  const m = tools.parseWat('test.wat', source, {
    simd: true, threads: true, tail_call: true, bulk_memory: true, reference_types: true, multi_value: true,
  });
  try {
    return m.toBinary({}).buffer;
  } finally {
    m.destroy();
  }
}

/** The metered module as text, for reading injected costs. */
export function meteredText(bytes: Uint8Array): string {
  const m = tools.readWasm(meter(bytes).bytes, { bulk_memory: true, reference_types: true });
  try {
    return m.toText({ foldExprs: false });
  } finally {
    m.destroy();
  }
}

export interface Metered {
  exports: WebAssembly.Exports;
  /** Sets the budget, calls the export, and reports what it used (even when it trapped). */
  run(name: string, budget: bigint, ...args: number[]): { used: bigint; counter: bigint; result?: unknown; trap?: unknown };
}

export function instantiateMetered(source: string | Uint8Array, imports: WebAssembly.Imports = {}): Metered {
  const raw = typeof source === 'string' ? wat(source) : source;
  const instance = new WebAssembly.Instance(new WebAssembly.Module(meter(raw).bytes), imports);
  const counter = instance.exports[COUNTER_EXPORT] as WebAssembly.Global;
  return {
    exports: instance.exports,
    run(name, budget, ...args) {
      counter.value = budget;
      let result: unknown;
      let trap: unknown;
      try {
        result = (instance.exports[name] as (...a: number[]) => unknown)(...args);
      } catch (e) {
        trap = e;
      }
      const left = counter.value as bigint;
      return { used: budget - left, counter: left, result, trap };
    },
  };
}

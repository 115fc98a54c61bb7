// One canister's wasm instance and the System API (ic0.*) it imports. Every
// entry point runs as one message: heap, globals and stable memory are restored
// when it traps, and always for queries; its effects (reply, calls, certified
// data, timer) are handed back for the replica to apply only on success.
import { Principal } from '@dfinity/principal';
import { StableMemory } from './stable.ts';
import { GLOBAL_EXPORT_PREFIX, TABLE_EXPORT } from './wasm.ts';

export type MessageKind =
  | 'init' | 'pre_upgrade' | 'post_upgrade' | 'update' | 'query' | 'timer'
  | 'reply_callback' | 'reject_callback' | 'cleanup' | 'inspect';

/** What one entry point sees of the message it handles. */
export interface Message {
  kind: MessageKind;
  method: string;
  arg: Uint8Array;
  caller: Uint8Array;
  time: bigint;
  /** Reject code and message, in reject callbacks. */
  reject?: { code: number; message: string };
  cycles: bigint;
  /** True when the call context was answered by an earlier message. */
  responded: boolean;
  /** The data certificate, offered only to non-replicated (ingress) queries. */
  dataCertificate?: () => Uint8Array;
  maxReplyBytes: number;
}

export interface Callback { fun: number; env: number }

export interface OutgoingCall {
  callee: Uint8Array;
  method: string;
  arg: Uint8Array;
  cycles: bigint;
  reply: Callback;
  reject: Callback;
  cleanup?: Callback;
}

export interface Effects {
  reply?: Uint8Array;
  reject?: string;
  calls: OutgoingCall[];
  certifiedData?: Uint8Array;
  timer?: bigint;
  accepted: boolean;
  cyclesAccepted: bigint;
  cyclesBurned: bigint;
}

/** IC error codes for the ways a message can fail inside the canister. */
export type TrapCode = 'IC0502' | 'IC0503' | 'IC0504';
export type Outcome =
  | { ok: true; effects: Effects }
  | { ok: false; code: TrapCode; message: string };

/** What the instance needs to know about the canister that hosts it. */
export interface CanisterEnv {
  readonly id: Principal;
  isController(principal: Uint8Array): boolean;
  version(): bigint;
  balance(): bigint;
  timer(): bigint;
  log(line: string): void;
}

class Trap extends Error {
  constructor(readonly code: TrapCode, message: string) {
    super(message);
  }
}
const violation = (message: string): Trap => new Trap('IC0504', message);

const CALL_CONTEXTS: MessageKind[] = ['update', 'reply_callback', 'reject_callback', 'timer'];
const REPLY_CONTEXTS: MessageKind[] = ['update', 'query', 'reply_callback', 'reject_callback'];
const CERTIFY_CONTEXTS: MessageKind[] = ['init', 'pre_upgrade', 'post_upgrade', 'update', 'timer', 'reply_callback', 'reject_callback', 'cleanup'];

interface PendingCall extends OutgoingCall { parts: Uint8Array[] }

interface Running {
  msg: Message;
  effects: Effects;
  reply: Uint8Array[];
  replySize: number;
  call?: PendingCall;
  started: bigint;
}

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

  constructor(readonly module: WebAssembly.Module, readonly stable: StableMemory, private readonly env: CanisterEnv) {
    this.imports = { ic0: this.systemApi() };
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

  private systemApi(): WebAssembly.ModuleImports {
    const api: Record<string, (...args: never[]) => unknown> = {};
    const self = this;
    const cur = (): Running => {
      if (!self.running) throw violation('System API called outside a message');
      return self.running;
    };
    const mem = (): Uint8Array => new Uint8Array(self.exports.memory.buffer);
    const slice = (src: number, size: number): Uint8Array => {
      const m = mem();
      const start = src >>> 0;
      const n = size >>> 0;
      if (start + n > m.length) throw violation(`memory access out of bounds: ${start}+${n}`);
      return m.slice(start, start + n);
    };
    const copyOut = (data: Uint8Array, dst: number, offset: number, size: number, what: string): void => {
      const o = offset >>> 0;
      const n = size >>> 0;
      if (o + n > data.length) throw violation(`${what}: offset ${o} + size ${n} exceeds ${data.length}`);
      const m = mem();
      const d = dst >>> 0;
      if (d + n > m.length) throw violation(`${what}: destination out of bounds`);
      m.set(data.subarray(o, o + n), d);
    };
    const write128 = (value: bigint, dst: number): void => {
      const b = new Uint8Array(16);
      new DataView(b.buffer).setBigUint64(0, value & 0xffffffffffffffffn, true);
      new DataView(b.buffer).setBigUint64(8, value >> 64n, true);
      copyOut(b, dst, 0, 16, 'cycles');
    };
    const only = (kinds: MessageKind[], name: string): Running => {
      const r = cur();
      if (!kinds.includes(r.msg.kind)) throw violation(`ic0.${name} cannot be called in ${r.msg.kind}`);
      return r;
    };
    const text = (b: Uint8Array): string => new TextDecoder().decode(b);
    const selfId = this.env.id.toUint8Array();
    /**
     * The 64-bit API's operands are unsigned i64s (JS sees them signed): checks
     * both ranges in BigInt so nothing wraps, and returns them as numbers.
     */
    const stableRanges = (name: string, heapAt: bigint, stableAt: bigint, size: bigint): [number, number, number] => {
      const [h, o, n] = [heapAt, stableAt, size].map((v) => BigInt.asUintN(64, v));
      if (h + n > BigInt(mem().length)) throw violation(`ic0.${name}: heap range ${h}+${n} out of bounds`);
      if (o + n > BigInt(self.stable.sizeBytes)) throw violation(`ic0.${name}: stable memory range ${o}+${n} out of bounds`);
      return [Number(h), Number(o), Number(n)];
    };

    api.msg_arg_data_size = () => cur().msg.arg.length;
    api.msg_arg_data_copy = (dst: number, offset: number, size: number) => copyOut(cur().msg.arg, dst, offset, size, 'msg_arg_data_copy');
    api.msg_caller_size = () => cur().msg.caller.length;
    api.msg_caller_copy = (dst: number, offset: number, size: number) => copyOut(cur().msg.caller, dst, offset, size, 'msg_caller_copy');
    api.msg_method_name_size = () => new TextEncoder().encode(cur().msg.method).length;
    api.msg_method_name_copy = (dst: number, offset: number, size: number) =>
      copyOut(new TextEncoder().encode(cur().msg.method), dst, offset, size, 'msg_method_name_copy');
    api.msg_reject_code = () => cur().msg.reject?.code ?? 0;
    api.msg_reject_msg_size = () => {
      const r = only(['reject_callback'], 'msg_reject_msg_size');
      return new TextEncoder().encode(r.msg.reject?.message ?? '').length;
    };
    api.msg_reject_msg_copy = (dst: number, offset: number, size: number) => {
      const r = only(['reject_callback'], 'msg_reject_msg_copy');
      copyOut(new TextEncoder().encode(r.msg.reject?.message ?? ''), dst, offset, size, 'msg_reject_msg_copy');
    };
    const answer = (name: string): Running => {
      const r = only(REPLY_CONTEXTS, name);
      if (r.msg.responded || r.effects.reply || r.effects.reject !== undefined) {
        throw violation(`ic0.${name}: the call was already answered`);
      }
      return r;
    };
    api.msg_reply_data_append = (src: number, size: number) => {
      const r = answer('msg_reply_data_append');
      const n = size >>> 0;
      if (r.replySize + n > r.msg.maxReplyBytes) {
        throw violation(`ic0.msg_reply_data_append: application payload size (${r.replySize + n}) cannot be larger than ${r.msg.maxReplyBytes}`);
      }
      r.reply.push(slice(src, size));
      r.replySize += n;
    };
    api.msg_reply = () => {
      const r = answer('msg_reply');
      const out = new Uint8Array(r.replySize);
      let p = 0;
      for (const part of r.reply) { out.set(part, p); p += part.length; }
      r.effects.reply = out;
    };
    api.msg_reject = (src: number, size: number) => {
      const r = answer('msg_reject');
      r.effects.reject = text(slice(src, size));
    };
    api.msg_cycles_available128 = (dst: number) => write128(cur().msg.cycles - cur().effects.cyclesAccepted, dst);
    api.msg_cycles_refunded128 = (dst: number) => write128(cur().msg.kind.endsWith('_callback') ? cur().msg.cycles : 0n, dst);
    api.msg_cycles_accept128 = (high: bigint, low: bigint, dst: number) => {
      const r = cur();
      const max = (BigInt.asUintN(64, high) << 64n) | BigInt.asUintN(64, low);
      const available = r.msg.kind === 'update' ? r.msg.cycles - r.effects.cyclesAccepted : 0n;
      const take = max < available ? max : available;
      r.effects.cyclesAccepted += take;
      write128(take, dst);
    };
    api.accept_message = () => {
      const r = only(['inspect'], 'accept_message');
      if (r.effects.accepted) throw violation('ic0.accept_message called twice');
      r.effects.accepted = true;
    };
    api.canister_self_size = () => selfId.length;
    api.canister_self_copy = (dst: number, offset: number, size: number) => copyOut(selfId, dst, offset, size, 'canister_self_copy');
    api.canister_cycle_balance128 = (dst: number) => write128(self.env.balance() - cur().effects.cyclesBurned, dst);
    api.canister_liquid_cycle_balance128 = (dst: number) => write128(self.env.balance() - cur().effects.cyclesBurned, dst);
    api.cycles_burn128 = (high: bigint, low: bigint, dst: number) => {
      const r = cur();
      const want = (BigInt.asUintN(64, high) << 64n) | BigInt.asUintN(64, low);
      const left = self.env.balance() - r.effects.cyclesBurned;
      const burned = want < left ? want : left;
      r.effects.cyclesBurned += burned;
      write128(burned, dst);
    };
    api.canister_version = () => self.env.version();
    api.is_controller = (src: number, size: number) => {
      const p = slice(src, size);
      if (p.length > 29) throw violation('ic0.is_controller: principal longer than 29 bytes');
      return self.env.isController(p) ? 1 : 0;
    };
    api.in_replicated_execution = () => (cur().msg.kind === 'query' || cur().msg.kind === 'inspect' ? 0 : 1);
    api.time = () => cur().msg.time;
    api.performance_counter = () => process.hrtime.bigint() - cur().started;
    api.global_timer_set = (ts: bigint) => {
      const r = cur();
      if (r.msg.kind === 'query' || r.msg.kind === 'inspect') throw violation('ic0.global_timer_set cannot be called in a query');
      const previous = r.effects.timer ?? self.env.timer();
      r.effects.timer = ts;
      return previous;
    };
    api.certified_data_set = (src: number, size: number) => {
      const r = only(CERTIFY_CONTEXTS, 'certified_data_set');
      if (size >>> 0 > 32) throw violation('ic0.certified_data_set: certified data is limited to 32 bytes');
      r.effects.certifiedData = slice(src, size);
    };
    const certificate = (): Uint8Array | undefined => {
      const r = cur();
      return r.msg.kind === 'query' ? r.msg.dataCertificate?.() : undefined;
    };
    api.data_certificate_present = () => (certificate() ? 1 : 0);
    api.data_certificate_size = () => {
      const c = certificate();
      if (!c) throw violation('ic0.data_certificate_size: no data certificate in this context');
      return c.length;
    };
    api.data_certificate_copy = (dst: number, offset: number, size: number) => {
      const c = certificate();
      if (!c) throw violation('ic0.data_certificate_copy: no data certificate in this context');
      copyOut(c, dst, offset, size, 'data_certificate_copy');
    };
    api.debug_print = (src: number, size: number) => self.env.log(text(slice(src, size)));
    api.trap = (src: number, size: number) => {
      throw new Trap('IC0503', text(slice(src, size)));
    };
    api.stable64_size = () => BigInt(self.stable.sizePages);
    api.stable64_grow = (pages: bigint) => {
      const old = self.stable.grow(Number(pages));
      return old < 0 ? -1n : BigInt(old);
    };
    api.stable64_read = (dst: bigint, offset: bigint, size: bigint) => {
      const [d, o, n] = stableRanges('stable64_read', dst, offset, size);
      self.stable.read(o, mem().subarray(d, d + n));
    };
    api.stable64_write = (offset: bigint, src: bigint, size: bigint) => {
      const [d, o, n] = stableRanges('stable64_write', src, offset, size);
      self.stable.write(o, mem().subarray(d, d + n));
    };
    api.call_new = (calleeSrc: number, calleeSize: number, nameSrc: number, nameSize: number, replyFun: number, replyEnv: number, rejectFun: number, rejectEnv: number) => {
      const r = only(CALL_CONTEXTS, 'call_new');
      if (r.call) throw violation('ic0.call_new: a call is already being built');
      r.call = {
        callee: slice(calleeSrc, calleeSize),
        method: text(slice(nameSrc, nameSize)),
        arg: new Uint8Array(),
        cycles: 0n,
        reply: { fun: replyFun >>> 0, env: replyEnv >>> 0 },
        reject: { fun: rejectFun >>> 0, env: rejectEnv >>> 0 },
        parts: [],
      };
    };
    const building = (name: string): PendingCall => {
      const c = cur().call;
      if (!c) throw violation(`ic0.${name}: no call is being built`);
      return c;
    };
    api.call_on_cleanup = (fun: number, env: number) => {
      const c = building('call_on_cleanup');
      if (c.cleanup) throw violation('ic0.call_on_cleanup called twice');
      c.cleanup = { fun: fun >>> 0, env: env >>> 0 };
    };
    api.call_data_append = (src: number, size: number) => {
      building('call_data_append').parts.push(slice(src, size));
    };
    api.call_cycles_add128 = (high: bigint, low: bigint) => {
      const c = building('call_cycles_add128');
      c.cycles += (BigInt.asUintN(64, high) << 64n) | BigInt.asUintN(64, low);
    };
    api.call_with_best_effort_response = () => {
      building('call_with_best_effort_response');
    };
    api.cost_call = (methodNameSize: bigint, payloadSize: bigint, dst: number) => {
      // The 13-node subnet fee schedule: base fee plus per-byte fee.
      write128(260_000n + 1_000n * ((methodNameSize) + (payloadSize)), dst);
    };
    api.call_perform = () => {
      const r = cur();
      const c = building('call_perform');
      r.call = undefined;
      const size = c.parts.reduce((n, p) => n + p.length, 0);
      const arg = new Uint8Array(size);
      let p = 0;
      for (const part of c.parts) { arg.set(part, p); p += part.length; }
      const { parts: _parts, ...call } = c;
      r.effects.calls.push({ ...call, arg });
      return 0;
    };
    return api;
  }
}

function toTrap(e: unknown): Outcome {
  if (e instanceof Trap) return { ok: false, code: e.code, message: e.message };
  if (e instanceof WebAssembly.RuntimeError) return { ok: false, code: 'IC0502', message: e.message };
  if (e instanceof RangeError) return { ok: false, code: 'IC0502', message: e.message };
  return { ok: false, code: 'IC0502', message: String((e as Error)?.message ?? e) };
}

// The System API (ic0.*) a canister module imports, grouped by subject. Every
// function acts on the running message; misuse traps with IC0504 as on the IC.
// Each call is charged instructions first, as the replica charges it.
import type { Principal } from '@dfinity/principal';
import type { StableMemory } from './stable.ts';
import { attachedCycles, isQuery, isReplicated, type Budget, type Effects, type Message, type MessageKind, type OutgoingCall, type TrapCode } from './message.ts';
import { MAX_RECORD_CONTENT } from './canister_log.ts';
import { instructionLimitExceeded } from './limits.ts';
import { xnetCallCost } from '../common/cycles.ts';
import { STABLE_DIRTY_PAGE, STABLE_OS_PAGE, feeOf } from './system_fees.ts';

/** What the System API needs to know about the canister that hosts it. */
export interface CanisterEnv {
  readonly id: Principal;
  isController(principal: Uint8Array): boolean;
  version(): bigint;
  balance(): bigint;
  timer(): bigint;
  /** ic0.debug_print from the running message: `content` is what one log record can hold of a print of `size` bytes. */
  print(content: Uint8Array, size: number, msg: Message): void;
  /** Nodes of the subnet whose fees are charged. */
  readonly subnetSize: number;
}

export class Trap extends Error {
  constructor(readonly code: TrapCode, message: string) {
    super(message);
  }
}
export const violation = (message: string): Trap => new Trap('IC0504', message);

/** The replica's words (IC0207) when `canister` lacks `needed` cycles for what it asked. */
export const outOfCyclesMessage = (canister: Principal, needed: bigint): string =>
  `Canister ${canister.toText()} is out of cycles: please top up the canister with at least ${needed} additional cycles`;

export interface PendingCall extends OutgoingCall { parts: Uint8Array[] }

/** The message an instance is running, and what it has produced so far. */
export interface Running {
  msg: Message;
  effects: Effects;
  reply: Uint8Array[];
  replySize: number;
  call?: PendingCall;
  budget: Budget;
  /** 4 KiB stable memory pages this message has written: each costs a fee the first time. */
  dirtyPages: Set<number>;
}

/** What the System API reaches through: the running message, the heap, stable memory, the canister. */
export interface ApiHost {
  running(): Running | null;
  memory(): WebAssembly.Memory;
  /** The metered module's instruction counter, or null when metering is off. */
  counter(): WebAssembly.Global | null;
  readonly stable: StableMemory;
  readonly env: CanisterEnv;
}

const CALL_CONTEXTS: MessageKind[] = ['update', 'reply_callback', 'reject_callback', 'timer'];
const REPLY_CONTEXTS: MessageKind[] = ['update', 'query', 'replicated_query', 'reply_callback', 'reject_callback'];
const CERTIFY_CONTEXTS: MessageKind[] = ['init', 'pre_upgrade', 'post_upgrade', 'update', 'timer', 'reply_callback', 'reject_callback', 'cleanup'];

type Imports = Record<string, (...args: never[]) => unknown>;

export function systemApi(host: ApiHost): WebAssembly.ModuleImports {
  const a = new Access(host);
  const api: Imports = {
    ...messageApi(a), ...replyApi(a), ...cyclesApi(a), ...canisterApi(a),
    ...certificationApi(a), ...stableApi(a), ...callApi(a), ...debugApi(a),
  };
  return Object.fromEntries(Object.entries(api).map(([name, fn]) => {
    const fee = feeOf(name);
    return [name, (...args: never[]) => {
      a.charge(fee(args as unknown as (number | bigint)[]));
      return fn(...args);
    }];
  }));
}

/** Checked access to the running message and the heap, shared by every ic0 function. */
class Access {
  constructor(private readonly host: ApiHost) {}

  get env(): CanisterEnv {
    return this.host.env;
  }

  get stable(): StableMemory {
    return this.host.stable;
  }

  cur(): Running {
    const r = this.host.running();
    if (!r) throw violation('System API called outside a message');
    return r;
  }

  only(kinds: MessageKind[], name: string): Running {
    const r = this.cur();
    if (!kinds.includes(r.msg.kind)) throw violation(`ic0.${name} cannot be called in ${r.msg.kind}`);
    return r;
  }

  heap(): Uint8Array {
    return new Uint8Array(this.host.memory().buffer);
  }

  /**
   * Takes `instructions` off the running message's counter, as the replica's
   * charge_direct_fee does: a counter already below zero, or taken below zero,
   * ends the message.
   */
  charge(instructions: bigint): void {
    const counter = this.host.counter();
    const r = this.host.running();
    if (!counter || !r) return;
    const left = counter.value as bigint;
    if (left < 0n) throw this.outOfInstructions(r);
    const next = left - instructions;
    counter.value = next < I64_MIN ? I64_MIN : next;
    if (next < 0n) throw this.outOfInstructions(r);
  }

  /** Instructions the running message has used so far. */
  used(r: Running): bigint {
    const counter = this.host.counter();
    return counter ? r.budget.available - (counter.value as bigint) : 0n;
  }

  private outOfInstructions(r: Running): Trap {
    return new Trap('IC0522', instructionLimitExceeded(r.budget.limit));
  }

  /** A copy of heap bytes src..src+size, all checked, of which only the first `keep` are copied. */
  slice(src: number, size: number, keep = Infinity): Uint8Array {
    const m = this.heap();
    const start = src >>> 0;
    const n = size >>> 0;
    if (start + n > m.length) throw violation(`memory access out of bounds: ${start}+${n}`);
    return m.slice(start, start + Math.min(n, keep));
  }

  text(src: number, size: number): string {
    return new TextDecoder().decode(this.slice(src, size));
  }

  copyOut(data: Uint8Array, dst: number, offset: number, size: number, what: string): void {
    const o = offset >>> 0;
    const n = size >>> 0;
    if (o + n > data.length) throw violation(`${what}: offset ${o} + size ${n} exceeds ${data.length}`);
    const m = this.heap();
    const d = dst >>> 0;
    if (d + n > m.length) throw violation(`${what}: destination out of bounds`);
    m.set(data.subarray(o, o + n), d);
  }

  write128(value: bigint, dst: number): void {
    const b = new Uint8Array(16);
    new DataView(b.buffer).setBigUint64(0, value & 0xffffffffffffffffn, true);
    new DataView(b.buffer).setBigUint64(8, value >> 64n, true);
    this.copyOut(b, dst, 0, 16, 'cycles');
  }
}

const I64_MIN = -(2n ** 63n);

/** A 128-bit amount passed as two i64 halves (JS sees them signed). */
const u128 = (high: bigint, low: bigint): bigint => (BigInt.asUintN(64, high) << 64n) | BigInt.asUintN(64, low);
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Joins appended pieces; a loop, not a spread, as a module may append byte by byte. */
function join(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) { out.set(part, at); at += part.length; }
  return out;
}

/** The incoming message: argument, caller, method name, reject details, inspect's verdict. */
function messageApi(a: Access): Imports {
  const rejectMessage = (name: string): Uint8Array => utf8(a.only(['reject_callback'], name).msg.reject?.message ?? '');
  return {
    msg_arg_data_size: () => a.cur().msg.arg.length,
    msg_arg_data_copy: (dst: number, offset: number, size: number) => a.copyOut(a.cur().msg.arg, dst, offset, size, 'msg_arg_data_copy'),
    msg_caller_size: () => a.cur().msg.caller.length,
    msg_caller_copy: (dst: number, offset: number, size: number) => a.copyOut(a.cur().msg.caller, dst, offset, size, 'msg_caller_copy'),
    msg_method_name_size: () => utf8(a.cur().msg.method).length,
    msg_method_name_copy: (dst: number, offset: number, size: number) =>
      a.copyOut(utf8(a.cur().msg.method), dst, offset, size, 'msg_method_name_copy'),
    msg_reject_code: () => a.cur().msg.reject?.code ?? 0,
    msg_reject_msg_size: () => rejectMessage('msg_reject_msg_size').length,
    msg_reject_msg_copy: (dst: number, offset: number, size: number) =>
      a.copyOut(rejectMessage('msg_reject_msg_copy'), dst, offset, size, 'msg_reject_msg_copy'),
    accept_message: () => {
      const r = a.only(['inspect'], 'accept_message');
      if (r.effects.accepted) throw violation('ic0.accept_message called twice');
      r.effects.accepted = true;
    },
  };
}

/** Answering the call: reply data, reply, reject; at most one answer per call context. */
function replyApi(a: Access): Imports {
  const answer = (name: string): Running => {
    const r = a.only(REPLY_CONTEXTS, name);
    if (r.msg.responded || r.effects.reply || r.effects.reject !== undefined) {
      throw violation(`ic0.${name}: the call was already answered`);
    }
    return r;
  };
  return {
    msg_reply_data_append: (src: number, size: number) => {
      const r = answer('msg_reply_data_append');
      const n = size >>> 0;
      if (r.replySize + n > r.msg.maxReplyBytes) {
        throw violation(`ic0.msg_reply_data_append: application payload size (${r.replySize + n}) cannot be larger than ${r.msg.maxReplyBytes}`);
      }
      r.reply.push(a.slice(src, size));
      r.replySize += n;
    },
    msg_reply: () => {
      const r = answer('msg_reply');
      r.effects.reply = join(r.reply);
    },
    msg_reject: (src: number, size: number) => {
      answer('msg_reject').effects.reject = a.text(src, size);
    },
  };
}

/**
 * The balance as the running message sees it: what it accepted is in, what it
 * burnt or attached to calls is out.
 */
function liquid(a: Access): bigint {
  const r = a.cur();
  const attached = attachedCycles(r.effects.calls) + (r.call?.cycles ?? 0n);
  return a.env.balance() + r.effects.cyclesAccepted - r.effects.cyclesBurned - attached;
}

/** Cycles: what the message carries, the canister's balance, burning, the cost of a call. */
function cyclesApi(a: Access): Imports {
  const balance = (dst: number): void => a.write128(liquid(a), dst);
  return {
    // A callback's msg.cycles are the refund, not cycles it may accept.
    msg_cycles_available128: (dst: number) => a.write128(a.cur().msg.kind === 'update' ? a.cur().msg.cycles - a.cur().effects.cyclesAccepted : 0n, dst),
    msg_cycles_refunded128: (dst: number) => a.write128(a.cur().msg.kind.endsWith('_callback') ? a.cur().msg.cycles : 0n, dst),
    msg_cycles_accept128: (high: bigint, low: bigint, dst: number) => {
      const r = a.cur();
      const max = u128(high, low);
      const available = r.msg.kind === 'update' ? r.msg.cycles - r.effects.cyclesAccepted : 0n;
      const take = max < available ? max : available;
      r.effects.cyclesAccepted += take;
      a.write128(take, dst);
    },
    // The devnet reserves no cycles, so all of the balance is liquid.
    canister_cycle_balance128: balance,
    canister_liquid_cycle_balance128: balance,
    cycles_burn128: (high: bigint, low: bigint, dst: number) => {
      const r = a.cur();
      const want = u128(high, low);
      const left = liquid(a);
      const burned = want < left ? want : left;
      r.effects.cyclesBurned += burned;
      a.write128(burned, dst);
    },
    cost_call: (methodNameSize: bigint, payloadSize: bigint, dst: number) => {
      a.write128(xnetCallCost(BigInt.asUintN(64, methodNameSize) + BigInt.asUintN(64, payloadSize), a.env.subnetSize), dst);
    },
  };
}

/** The canister and its surroundings: its id, version, controllers, time, global timer. */
function canisterApi(a: Access): Imports {
  const selfId = a.env.id.toUint8Array();
  return {
    canister_self_size: () => selfId.length,
    canister_self_copy: (dst: number, offset: number, size: number) => a.copyOut(selfId, dst, offset, size, 'canister_self_copy'),
    canister_version: () => a.env.version(),
    is_controller: (src: number, size: number) => {
      const p = a.slice(src, size);
      if (p.length > 29) throw violation('ic0.is_controller: principal longer than 29 bytes');
      return a.env.isController(p) ? 1 : 0;
    },
    in_replicated_execution: () => (isReplicated(a.cur().msg.kind) ? 1 : 0),
    time: () => a.cur().msg.time,
    global_timer_set: (ts: bigint) => {
      const r = a.cur();
      if (isQuery(r.msg.kind)) throw violation(`ic0.global_timer_set cannot be called in ${r.msg.kind}`);
      const previous = r.effects.timer ?? a.env.timer();
      r.effects.timer = ts;
      return previous;
    },
  };
}

/** Certified data, and the data certificate a query may read. */
function certificationApi(a: Access): Imports {
  const present = (): Uint8Array | undefined => {
    const r = a.cur();
    return r.msg.kind === 'query' ? r.msg.dataCertificate?.() : undefined;
  };
  const certificate = (name: string): Uint8Array => {
    const c = present();
    if (!c) throw violation(`ic0.${name}: no data certificate in this context`);
    return c;
  };
  return {
    certified_data_set: (src: number, size: number) => {
      const r = a.only(CERTIFY_CONTEXTS, 'certified_data_set');
      if (size >>> 0 > 32) throw violation('ic0.certified_data_set: certified data is limited to 32 bytes');
      r.effects.certifiedData = a.slice(src, size);
    },
    data_certificate_present: () => (present() ? 1 : 0),
    data_certificate_size: () => certificate('data_certificate_size').length,
    data_certificate_copy: (dst: number, offset: number, size: number) =>
      a.copyOut(certificate('data_certificate_copy'), dst, offset, size, 'data_certificate_copy'),
  };
}

/** The 64-bit stable memory API. */
function stableApi(a: Access): Imports {
  /**
   * The operands are unsigned i64s (JS sees them signed): checks both ranges
   * in BigInt so nothing wraps, and returns them as numbers.
   */
  const ranges = (name: string, heapAt: bigint, stableAt: bigint, size: bigint): [number, number, number] => {
    const [h, o, n] = [heapAt, stableAt, size].map((v) => BigInt.asUintN(64, v));
    if (h + n > BigInt(a.heap().length)) throw violation(`ic0.${name}: heap range ${h}+${n} out of bounds`);
    if (o + n > BigInt(a.stable.sizeBytes)) throw violation(`ic0.${name}: stable memory range ${o}+${n} out of bounds`);
    return [Number(h), Number(o), Number(n)];
  };
  return {
    stable64_size: () => BigInt(a.stable.sizePages),
    stable64_grow: (pages: bigint) => {
      const old = a.stable.grow(Number(pages));
      return old < 0 ? -1n : BigInt(old);
    },
    stable64_read: (dst: bigint, offset: bigint, size: bigint) => {
      const [d, o, n] = ranges('stable64_read', dst, offset, size);
      a.stable.read(o, a.heap().subarray(d, d + n));
    },
    stable64_write: (offset: bigint, src: bigint, size: bigint) => {
      const [d, o, n] = ranges('stable64_write', src, offset, size);
      if (n === 0) return;
      const r = a.cur();
      let fresh = 0;
      for (let page = Math.floor(o / STABLE_OS_PAGE); page <= Math.floor((o + n - 1) / STABLE_OS_PAGE); page++) {
        if (!r.dirtyPages.has(page)) { r.dirtyPages.add(page); fresh++; }
      }
      a.charge(STABLE_DIRTY_PAGE * BigInt(fresh));
      a.stable.write(o, a.heap().subarray(d, d + n));
    },
  };
}

/** Building and sending inter-canister calls (call_new … call_perform). */
function callApi(a: Access): Imports {
  const building = (name: string): PendingCall => {
    const c = a.cur().call;
    if (!c) throw violation(`ic0.${name}: no call is being built`);
    return c;
  };
  return {
    call_new: (calleeSrc: number, calleeSize: number, nameSrc: number, nameSize: number, replyFun: number, replyEnv: number, rejectFun: number, rejectEnv: number) => {
      const r = a.only(CALL_CONTEXTS, 'call_new');
      if (r.call) throw violation('ic0.call_new: a call is already being built');
      r.call = {
        callee: a.slice(calleeSrc, calleeSize),
        method: a.text(nameSrc, nameSize),
        arg: new Uint8Array(),
        cycles: 0n,
        reply: { fun: replyFun >>> 0, env: replyEnv >>> 0 },
        reject: { fun: rejectFun >>> 0, env: rejectEnv >>> 0 },
        parts: [],
      };
    },
    call_on_cleanup: (fun: number, env: number) => {
      const c = building('call_on_cleanup');
      if (c.cleanup) throw violation('ic0.call_on_cleanup called twice');
      c.cleanup = { fun: fun >>> 0, env: env >>> 0 };
    },
    call_data_append: (src: number, size: number) => {
      building('call_data_append').parts.push(a.slice(src, size));
    },
    // The cycles leave the balance at once, as on the IC, so a canister cannot attach more than it has.
    call_cycles_add128: (high: bigint, low: bigint) => {
      const c = building('call_cycles_add128');
      const amount = u128(high, low);
      const left = liquid(a);
      if (amount > left) throw new Trap('IC0207', outOfCyclesMessage(a.env.id, amount - left));
      c.cycles += amount;
    },
    call_with_best_effort_response: () => {
      building('call_with_best_effort_response');
    },
    call_perform: () => {
      const r = a.cur();
      const c = building('call_perform');
      r.call = undefined;
      const { parts, ...call } = c;
      r.effects.calls.push({ ...call, arg: join(parts) });
      return 0;
    },
  };
}

/** Logging, explicit traps and the instruction counters. */
function debugApi(a: Access): Imports {
  return {
    // Only what a log record can hold is copied: a canister may print its whole heap, again and again.
    debug_print: (src: number, size: number) => a.env.print(a.slice(src, size, MAX_RECORD_CONTENT), size >>> 0, a.cur().msg),
    trap: (src: number, size: number) => {
      throw new Trap('IC0503', a.text(src, size));
    },
    // 0: this message so far; 1: the call context so far, earlier messages included.
    performance_counter: (type: number) => {
      const r = a.cur();
      if (type === 0) return a.used(r);
      if (type === 1) return r.budget.callContext + a.used(r);
      throw violation(`Error getting performance counter type ${type}`);
    },
  };
}

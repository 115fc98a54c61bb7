// The devnet's execution layer: one subnet with one node. Messages run one at a
// time, in order; an update's outgoing calls (Azle calls itself for timers and
// `chunk()`) become requests whose replies run the callbacks, so a call context
// may be answered several messages after the ingress that opened it.
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lebEncode } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { bytesToHex } from '@noble/hashes/utils';
import { Canister } from './canister.ts';
import { RejectError } from './errors.ts';
import type { Keys } from './keys.ts';
import type { CallContextOrigin, ManagementCanister } from './management.ts';
import type { Callback, Message, OutgoingCall, Outcome } from './instance.ts';
import { writeAtomic } from '../common/write_atomic.ts';
import { compareBytes, node } from './hashtree.ts';

export const MAX_INGRESS_BYTES = 2 * 1024 * 1024;
export const MAX_UPDATE_REPLY_BYTES = 2 * 1024 * 1024;
export const MAX_QUERY_REPLY_BYTES = 3 * 1024 * 1024;
const MAX_INTER_CANISTER_BYTES = 2 * 1024 * 1024;
/** How long a data certificate is reused before a fresh one is signed. */
const CERTIFICATE_REUSE_NS = 30_000_000_000n;
/** How long answered requests stay readable with read_state. */
const REQUEST_STATUS_TTL_MS = 6 * 60_000;

export type CallResult =
  | { status: 'replied'; reply: Uint8Array }
  | { status: 'rejected'; code: number; message: string; errorCode: string };

export interface RequestStatus {
  sender: string;
  state: 'processing' | 'done';
  result?: CallResult;
  at: number;
  waiters: ((r: CallResult) => void)[];
}

interface CallContext {
  origin: Origin;
  /** Who opened the context: msg_caller in every message that belongs to it. */
  caller: Uint8Array;
  responded: boolean;
  outstanding: number;
  /** The last trap, reported if no later message answers the call. */
  trap?: CallResult;
}

type Origin =
  | { kind: 'ingress'; requestId: string }
  | { kind: 'canister'; caller: Canister; context: CallContext; call: OutgoingCall; epoch: number }
  | { kind: 'system' };

type Task =
  | { kind: 'request'; callee: Principal; method: string; arg: Uint8Array; caller: Principal; cycles: bigint; origin: Origin }
  | { kind: 'response'; canister: Canister; context: CallContext; call: OutgoingCall; epoch: number; result: CallResult }
  | { kind: 'timer'; canister: Canister };

/** Canister ids start where a dfx replica's do (bkyz2-fmaaa-aaaaa-qaaaq-cai). */
const FIRST_CANISTER_INDEX = 0x8000000000100000n;
const FIRST_ALLOCATED_INDEX = FIRST_CANISTER_INDEX + 1n;
const LAST_CANISTER_INDEX = 0x80000000001fffffn;

export function canisterIdOf(index: bigint): Principal {
  const b = new Uint8Array(10);
  new DataView(b.buffer).setBigUint64(0, index);
  b[8] = 1;
  b[9] = 1;
  return Principal.fromUint8Array(b);
}

export class Replica {
  readonly canisters = new Map<string, Canister>();
  readonly requests = new Map<string, RequestStatus>();
  private readonly queue: Task[] = [];
  private pumping = false;
  private lastTime = 0n;
  private nextIndex: bigint;
  private timerHandle: NodeJS.Timeout | null = null;
  private readonly certificates = new Map<string, { data: string; time: bigint; cert: Uint8Array }>();
  private management!: ManagementCanister;
  private closed = false;

  constructor(private readonly stateDir: string, readonly keys: Keys, readonly log: (line: string) => void) {
    mkdirSync(this.canisterRoot, { recursive: true });
    const file = join(stateDir, 'replica.json');
    this.nextIndex = existsSync(file)
      ? BigInt((JSON.parse(readFileSync(file, 'utf8')) as { nextIndex: string }).nextIndex)
      : FIRST_ALLOCATED_INDEX;
  }

  attachManagement(m: ManagementCanister): void {
    this.management = m;
  }

  get canisterRoot(): string {
    return join(this.stateDir, 'canisters');
  }

  /** The canister range this subnet certifies, for the agent's range checks. */
  get canisterRanges(): [Uint8Array, Uint8Array][] {
    return [[canisterIdOf(FIRST_CANISTER_INDEX).toUint8Array(), canisterIdOf(LAST_CANISTER_INDEX).toUint8Array()]];
  }

  /** Whether `id` falls in this subnet's canister range (the routing table of a one-subnet IC). */
  hostsRange(id: Principal): boolean {
    const b = id.toUint8Array();
    return this.canisterRanges.some(([lo, hi]) => compareBytes(b, lo) >= 0 && compareBytes(b, hi) <= 0);
  }

  /** Brings every persisted canister back, each through post_upgrade. */
  restore(): void {
    for (const name of readdirSync(this.canisterRoot)) {
      const id = Principal.fromText(name);
      if (!Canister.exists(this.canisterRoot, id)) continue;
      try {
        this.canisters.set(name, Canister.restore(this.canisterRoot, id, this.now(), this.log));
      } catch (e) {
        this.log(`canister ${name} could not be restored: ${(e as Error).message}`);
      }
    }
    this.scheduleTimers();
  }

  /** Message time: nanoseconds, strictly increasing between messages. */
  now(): bigint {
    const t = BigInt(Date.now()) * 1_000_000n;
    this.lastTime = t > this.lastTime ? t : this.lastTime + 1n;
    return this.lastTime;
  }

  allocateCanisterId(specified?: Principal): Principal {
    if (specified) {
      if (this.canisters.has(specified.toText())) {
        throw new RejectError(5, 'IC0518', `Canister ${specified.toText()} is already installed.`);
      }
      return specified;
    }
    let id: Principal;
    do {
      if (this.nextIndex > LAST_CANISTER_INDEX) throw new RejectError(5, 'IC0501', 'The devnet subnet has no canister ids left.');
      id = canisterIdOf(this.nextIndex++);
    } while (this.canisters.has(id.toText()));
    writeAtomic(join(this.stateDir, 'replica.json'), JSON.stringify({ nextIndex: this.nextIndex.toString() }) + '\n');
    return id;
  }

  addCanister(c: Canister): void {
    this.canisters.set(c.id.toText(), c);
  }

  deleteCanister(c: Canister): void {
    c.destroy();
    this.canisters.delete(c.id.toText());
  }

  canister(id: Principal): Canister {
    const c = this.canisters.get(id.toText());
    if (!c) throw new RejectError(3, 'IC0301', `Canister ${id.toText()} not found`);
    return c;
  }

  /** A non-replicated query: runs against the current state and changes nothing. */
  query(canisterId: Principal, method: string, arg: Uint8Array, sender: Principal): CallResult {
    try {
      const c = this.canister(canisterId);
      const entry = c.hasMethod('canister_query', method)
        ? `canister_query ${method}`
        : c.hasMethod('canister_update', method) ? `canister_update ${method}` : null;
      if (!c.hasCode) throw new RejectError(5, 'IC0537', `Attempted to execute a message, but the canister ${canisterId.toText()} contains no Wasm module.`);
      if (!entry) throw new RejectError(5, 'IC0536', `Error from Canister ${canisterId.toText()}: Canister has no query method '${method}'.`);
      if (c.status !== 'running') throw new RejectError(5, 'IC0508', `Canister ${canisterId.toText()} is not running`);
      const msg: Message = {
        kind: 'query', method, arg, caller: sender.toUint8Array(), time: this.now(), cycles: 0n,
        responded: false, maxReplyBytes: MAX_QUERY_REPLY_BYTES,
        dataCertificate: () => this.dataCertificate(c),
      };
      const outcome = c.execute(msg, entry, false);
      return this.toResult(c, outcome);
    } catch (e) {
      return rejected(e);
    }
  }

  /**
   * Accepts an ingress call. The returned promise settles when the call
   * context is answered; the status stays readable through read_state.
   */
  submit(requestId: Uint8Array, canisterId: Principal, method: string, arg: Uint8Array, sender: Principal): Promise<CallResult> {
    const key = bytesToHex(requestId);
    const known = this.requests.get(key);
    if (known) {
      // A replayed request is not executed again.
      return known.result ? Promise.resolve(known.result) : new Promise((resolve) => known.waiters.push(resolve));
    }
    const status: RequestStatus = { sender: sender.toText(), state: 'processing', at: Date.now(), waiters: [] };
    this.requests.set(key, status);
    const done = new Promise<CallResult>((resolve) => status.waiters.push(resolve));
    this.enqueue({ kind: 'request', callee: canisterId, method, arg, caller: sender, cycles: 0n, origin: { kind: 'ingress', requestId: key } });
    return done;
  }

  /** Runs canister_inspect_message, when the canister has one. */
  inspect(canisterId: Principal, method: string, arg: Uint8Array, sender: Principal): CallResult | null {
    const c = this.canisters.get(canisterId.toText());
    if (!c || !c.hasEntry('canister_inspect_message')) return null;
    const msg: Message = {
      kind: 'inspect', method, arg, caller: sender.toUint8Array(), time: this.now(), cycles: 0n,
      responded: false, maxReplyBytes: 0,
    };
    const o = c.execute(msg, 'canister_inspect_message', false);
    if (o.ok && o.effects.accepted) return null;
    const why = o.ok ? 'Canister rejected the message' : `Canister trapped: ${o.message}`;
    return { status: 'rejected', code: 4, errorCode: 'IC0406', message: `Error from Canister ${canisterId.toText()}: ${why}` };
  }

  private enqueue(task: Task): void {
    this.queue.push(task);
    if (!this.pumping) {
      this.pumping = true;
      setImmediate(() => this.pump());
    }
  }

  private async pump(): Promise<void> {
    let n = 0;
    while (this.queue.length > 0 && !this.closed) {
      const task = this.queue.shift()!;
      try {
        this.process(task);
      } catch (e) {
        this.log(`internal error processing a message: ${(e as Error).stack}`);
        this.failTask(task, e as Error);
      }
      // Let HTTP requests (queries, new calls) in between messages.
      if (++n % 8 === 0) await new Promise((r) => setImmediate(r));
    }
    this.pumping = false;
    this.scheduleTimers();
  }

  /** Answers whoever waits on a task the devnet itself failed to process. */
  private failTask(task: Task, e: Error): void {
    const result: CallResult = { status: 'rejected', code: 2, errorCode: 'IC0502', message: `devnet internal error: ${e.message}` };
    if (task.kind === 'request') {
      this.respond({ origin: task.origin, caller: task.caller.toUint8Array(), responded: false, outstanding: 0 }, result);
    } else if (task.kind === 'response' && !task.context.responded && task.context.outstanding === 0) {
      this.respond(task.context, result);
    }
  }

  private process(task: Task): void {
    if (task.kind === 'request') {
      this.processRequest(task);
    } else if (task.kind === 'response') {
      this.processResponse(task);
    } else {
      this.processTimer(task.canister);
    }
  }

  private processRequest(t: Extract<Task, { kind: 'request' }>): void {
    const context: CallContext = { origin: t.origin, caller: t.caller.toUint8Array(), responded: false, outstanding: 0 };
    if (t.callee.toText() === 'aaaaa-aa') {
      let result: CallResult;
      try {
        const reply = this.management.handle(t.caller, t.method, t.arg, origin(t.origin), this.now());
        result = { status: 'replied', reply };
      } catch (e) {
        result = rejected(e);
      }
      this.respond(context, result);
      return;
    }
    let c: Canister;
    try {
      c = this.canister(t.callee);
      if (!c.hasCode) throw new RejectError(5, 'IC0537', `Attempted to execute a message, but the canister ${t.callee.toText()} contains no Wasm module.`);
      if (!c.hasMethod('canister_update', t.method)) throw new RejectError(5, 'IC0536', `Error from Canister ${t.callee.toText()}: Canister has no update method '${t.method}'.`);
      if (c.status !== 'running') throw new RejectError(5, 'IC0508', `Canister ${t.callee.toText()} is not running`);
    } catch (e) {
      this.respond(context, rejected(e));
      return;
    }
    const msg: Message = {
      kind: 'update', method: t.method, arg: t.arg, caller: context.caller, time: this.now(), cycles: t.cycles,
      responded: false, maxReplyBytes: t.origin.kind === 'ingress' ? MAX_UPDATE_REPLY_BYTES : MAX_INTER_CANISTER_BYTES,
    };
    this.settle(c, context, c.execute(msg, `canister_update ${t.method}`, true));
  }

  private processResponse(t: Extract<Task, { kind: 'response' }>): void {
    const { canister: c, context, call, result } = t;
    context.outstanding--;
    if (t.epoch !== c.codeEpoch) {
      // Code was uninstalled or reinstalled since the call: its callbacks are gone.
      if (context.outstanding === 0 && !context.responded) {
        this.respond(context, { status: 'rejected', code: 5, errorCode: 'IC0537', message: `Canister ${c.id.toText()} was uninstalled or reinstalled while awaiting a response` });
      }
      return;
    }
    const replied = result.status === 'replied';
    const msg: Message = {
      kind: replied ? 'reply_callback' : 'reject_callback',
      method: '', arg: replied ? result.reply : new Uint8Array(), caller: context.caller, time: this.now(),
      cycles: 0n, responded: context.responded, maxReplyBytes: MAX_UPDATE_REPLY_BYTES,
      reject: replied ? undefined : { code: result.code, message: result.message },
    };
    // The canister may have been uninstalled since it made the call.
    const run = (entry: Callback, m: Message): Outcome => {
      try {
        return c.execute(m, entry, true);
      } catch (e) {
        return { ok: false, code: 'IC0502', message: (e as Error).message };
      }
    };
    const outcome = run(replied ? call.reply : call.reject, msg);
    if (!outcome.ok && call.cleanup) {
      const cleanup = run(call.cleanup, { ...msg, kind: 'cleanup', arg: new Uint8Array() });
      if (!cleanup.ok) this.log(`[Canister ${c.id.toText()}] cleanup callback trapped: ${cleanup.message}`);
    }
    this.settle(c, context, outcome);
  }

  private processTimer(c: Canister): void {
    if (!c.hasEntry('canister_global_timer')) return;
    const context: CallContext = { origin: { kind: 'system' }, caller: c.id.toUint8Array(), responded: true, outstanding: 0 };
    const msg: Message = {
      kind: 'timer', method: 'canister_global_timer', arg: new Uint8Array(), caller: c.id.toUint8Array(),
      time: this.now(), cycles: 0n, responded: true, maxReplyBytes: 0,
    };
    this.settle(c, context, c.execute(msg, 'canister_global_timer', true));
  }

  /** Applies a message's outcome to its call context and sends its calls. */
  private settle(c: Canister, context: CallContext, outcome: Outcome): void {
    if (!outcome.ok) {
      if (context.origin.kind === 'system') this.log(`[Canister ${c.id.toText()}] timer trapped: ${outcome.message}`);
      // Other calls of this context may still come back and answer it.
      context.trap = trapResult(c, outcome);
    } else {
      const e = outcome.effects;
      if (e.reply) this.respond(context, { status: 'replied', reply: e.reply });
      else if (e.reject !== undefined) this.respond(context, { status: 'rejected', code: 4, errorCode: 'IC0406', message: e.reject });
      for (const call of e.calls) {
        context.outstanding++;
        this.enqueue({
          kind: 'request', callee: Principal.fromUint8Array(call.callee), method: call.method, arg: call.arg,
          caller: c.id, cycles: call.cycles, origin: { kind: 'canister', caller: c, context, call, epoch: c.codeEpoch },
        });
      }
    }
    if (context.outstanding === 0 && !context.responded) {
      this.respond(context, context.trap ?? { status: 'rejected', code: 5, errorCode: 'IC0506', message: `Canister ${c.id.toText()} did not produce a response` });
    }
  }

  private respond(context: CallContext, result: CallResult): void {
    context.responded = true;
    const o = context.origin;
    if (o.kind === 'ingress') {
      const status = this.requests.get(o.requestId);
      if (!status) return;
      status.state = 'done';
      status.result = result;
      status.at = Date.now();
      for (const w of status.waiters.splice(0)) w(result);
    } else if (o.kind === 'canister') {
      this.enqueue({ kind: 'response', canister: o.caller, context: o.context, call: o.call, epoch: o.epoch, result });
    }
  }

  private toResult(c: Canister, outcome: Outcome): CallResult {
    if (!outcome.ok) return trapResult(c, outcome);
    if (outcome.effects.reply) return { status: 'replied', reply: outcome.effects.reply };
    if (outcome.effects.reject !== undefined) return { status: 'rejected', code: 4, errorCode: 'IC0406', message: outcome.effects.reject };
    return { status: 'rejected', code: 5, errorCode: 'IC0506', message: `Canister ${c.id.toText()} did not produce a response` };
  }

  /** Fires due global timers now and arms a wake-up for the next one. */
  private scheduleTimers(): void {
    if (this.closed) return;
    if (this.timerHandle) clearTimeout(this.timerHandle);
    this.timerHandle = null;
    const now = BigInt(Date.now()) * 1_000_000n;
    let next: bigint | null = null;
    for (const c of this.canisters.values()) {
      const t = c.timer();
      // A stopped canister's timer waits until it runs again.
      if (t === 0n || c.status !== 'running') continue;
      if (t <= now) {
        c.clearTimer();
        this.enqueue({ kind: 'timer', canister: c });
      } else if (next === null || t < next) {
        next = t;
      }
    }
    if (next !== null && !this.pumping) {
      const ms = Number((next - now) / 1_000_000n) + 1;
      this.timerHandle = setTimeout(() => this.scheduleTimers(), Math.min(ms, 2 ** 31 - 1));
    }
  }

  /** The certificate a query sees: certified_data of its canister and the time. */
  private dataCertificate(c: Canister): Uint8Array {
    const data = bytesToHex(c.certifiedData);
    const now = BigInt(Date.now()) * 1_000_000n;
    const cached = this.certificates.get(c.id.toText());
    if (cached && cached.data === data && now - cached.time < CERTIFICATE_REUSE_NS) return cached.cert;
    const cert = this.keys.certify(node(
      ['canister', node([c.id.toUint8Array(), node(['certified_data', c.certifiedData])])],
      ['time', new Uint8Array(lebEncode(now))],
    ));
    this.certificates.set(c.id.toText(), { data, time: now, cert });
    return cert;
  }

  /** Forgets answered requests once no agent can still ask for them. */
  pruneRequests(): void {
    const cutoff = Date.now() - REQUEST_STATUS_TTL_MS;
    for (const [k, s] of this.requests) if (s.state === 'done' && s.at < cutoff) this.requests.delete(k);
  }

  /** Waits for the queue to drain, then closes every canister's files. */
  async close(): Promise<void> {
    while (this.pumping) await new Promise((r) => setTimeout(r, 5));
    this.closed = true;
    if (this.timerHandle) clearTimeout(this.timerHandle);
    for (const c of this.canisters.values()) c.close();
  }
}

function origin(o: Origin): CallContextOrigin {
  return o.kind === 'ingress' ? 'ingress' : o.kind === 'canister' ? 'canister' : 'system';
}

function trapResult(c: Canister, o: Extract<Outcome, { ok: false }>): CallResult {
  const how = o.code === 'IC0503' ? 'Canister called `ic0.trap` with message' : 'Canister trapped';
  return { status: 'rejected', code: 5, errorCode: o.code, message: `Error from Canister ${c.id.toText()}: ${how}: ${o.message}` };
}

export function rejected(e: unknown): CallResult {
  if (e instanceof RejectError) return { status: 'rejected', code: e.rejectCode, errorCode: e.errorCode, message: e.message };
  return { status: 'rejected', code: 5, errorCode: 'IC0502', message: (e as Error)?.message ?? String(e) };
}

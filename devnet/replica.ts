// Replicated execution on the devnet's one node. Messages run one at a time, in
// order; an update's outgoing calls (Azle calls itself for timers and `chunk()`)
// become requests whose replies run the callbacks, so a call context may be
// answered several messages after the ingress that opened it. Calls to the
// management canister and to builtin canisters are answered by them at once;
// global timers fire as messages too. A call to a query method runs it
// replicated, as a replica does: charged and logged, its changes discarded.
// Cycles a canister attaches to a call leave its balance when the call is
// made; those the callee does not accept come back with the response.
import { ReplicaRejectCode } from '@dfinity/agent';
import { Principal } from '@dfinity/principal';
import { bytesToHex } from '@noble/hashes/utils';
import { AttachedCycles, type BuiltinCanister, type Builtins } from './builtin.ts';
import { answerOf, noResponse, rejected, trapped, type CallResult } from './call_result.ts';
import type { Canister, EntryPoint } from './canister.ts';
import type { Clock } from './clock.ts';
import type { IngressStatus } from './ingress_status.ts';
import type { ManagementCanister } from './management.ts';
import type { Callback, Message, OutgoingCall, Outcome } from './message.ts';
import { isManagementCanister, type CanisterRegistry } from './registry.ts';

const MAX_UPDATE_REPLY_BYTES = 2 * 1024 * 1024;
const MAX_INTER_CANISTER_BYTES = 2 * 1024 * 1024;

interface CallContext {
  origin: Origin;
  /** Who opened the context: msg_caller in every message that belongs to it. */
  caller: Uint8Array;
  responded: boolean;
  outstanding: number;
  /** The last trap, reported if no later message answers the call. */
  trap?: CallResult;
  /** Instructions its messages have run so far. */
  instructions: bigint;
  /** Cycles of the opening call not accepted (yet): refunded with the answer. */
  cycles: bigint;
}

type Origin =
  | { kind: 'ingress'; requestId: string }
  | { kind: 'canister'; caller: Canister; context: CallContext; call: OutgoingCall; epoch: number }
  | { kind: 'system' };

type Request = { kind: 'request'; callee: Principal; method: string; arg: Uint8Array; caller: Principal; cycles: bigint; origin: Origin };
type Response = { kind: 'response'; canister: Canister; context: CallContext; call: OutgoingCall; epoch: number; result: CallResult; refund: bigint };
type Task = Request | Response | { kind: 'timer'; canister: Canister };

export class Replica {
  private readonly queue: Task[] = [];
  private pumping = false;
  private timerHandle: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly canisters: CanisterRegistry,
    private readonly management: ManagementCanister,
    private readonly builtins: Builtins,
    private readonly clock: Clock,
    private readonly ingress: IngressStatus,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * Accepts an ingress call whose signed envelope is `envelopeBytes` long; the
   * canister pays for its induction once. The returned promise settles when the
   * call context is answered; the status stays readable through read_state.
   */
  submit(requestId: Uint8Array, canisterId: Principal, method: string, arg: Uint8Array, sender: Principal, envelopeBytes: number): Promise<CallResult> {
    const key = bytesToHex(requestId);
    const { fresh, done } = this.ingress.open(key, sender.toText());
    if (!fresh) return done;
    try {
      if (!isManagementCanister(canisterId)) this.canisters.find(canisterId)?.payIngress(envelopeBytes, this.clock.now());
    } catch (e) {
      this.ingress.answer(key, rejected(e));
      return done;
    }
    this.enqueue({ kind: 'request', callee: canisterId, method, arg, caller: sender, cycles: 0n, origin: { kind: 'ingress', requestId: key } });
    return done;
  }

  /** Fires due global timers now and arms a wake-up for the next one. */
  scheduleTimers(): void {
    if (this.closed) return;
    if (this.timerHandle) clearTimeout(this.timerHandle);
    this.timerHandle = null;
    const now = BigInt(Date.now()) * 1_000_000n;
    let next: bigint | null = null;
    for (const c of this.canisters.all()) {
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

  /** Waits for the queue to drain, then runs nothing more. */
  async close(): Promise<void> {
    while (this.pumping) await new Promise((r) => setTimeout(r, 5));
    this.closed = true;
    if (this.timerHandle) clearTimeout(this.timerHandle);
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
    const result: CallResult = { status: 'rejected', code: ReplicaRejectCode.SysTransient, errorCode: 'IC0502', message: `devnet internal error: ${e.message}` };
    if (task.kind === 'request') {
      this.respond({ origin: task.origin, caller: task.caller.toUint8Array(), responded: false, outstanding: 0, instructions: 0n, cycles: task.cycles }, result);
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

  private processRequest(t: Request): void {
    const context: CallContext = { origin: t.origin, caller: t.caller.toUint8Array(), responded: false, outstanding: 0, instructions: 0n, cycles: t.cycles };
    // The management canister accepts no cycles on the devnet: they all go back.
    if (isManagementCanister(t.callee)) {
      this.respond(context, this.callManagement(t));
      return;
    }
    const builtin = this.builtins.find(t.callee);
    if (builtin) {
      this.callBuiltin(builtin, t, context);
      return;
    }
    let c: Canister;
    let entry: EntryPoint;
    try {
      c = this.canisters.get(t.callee);
      entry = c.entryFor('update', t.method);
    } catch (e) {
      this.respond(context, rejected(e));
      return;
    }
    const msg: Message = {
      kind: entry.kind, method: t.method, arg: t.arg, caller: context.caller, time: this.clock.now(), cycles: t.cycles,
      responded: false, maxReplyBytes: t.origin.kind === 'ingress' ? MAX_UPDATE_REPLY_BYTES : MAX_INTER_CANISTER_BYTES,
    };
    this.settle(c, context, c.execute(msg, entry.name, true, context.instructions));
  }

  private callManagement(t: Request): CallResult {
    try {
      return { status: 'replied', reply: this.management.handle(t.caller, t.method, t.arg, t.origin.kind, this.clock.now()) };
    } catch (e) {
      return rejected(e);
    }
  }

  /** A builtin keeps the cycles it accepted only when it replies. */
  private callBuiltin(b: BuiltinCanister, t: Request, context: CallContext): void {
    const cycles = new AttachedCycles(t.cycles);
    let result: CallResult;
    try {
      result = { status: 'replied', reply: b.update(t.caller, t.method, t.arg, this.clock.now(), cycles) };
      context.cycles = cycles.available;
    } catch (e) {
      result = rejected(e);
    }
    this.respond(context, result);
  }

  private processResponse(t: Response): void {
    const { canister: c, context, call, result, refund } = t;
    context.outstanding--;
    // The refund is the caller's whatever becomes of the callback; a deleted caller's are lost.
    if (refund > 0n && this.canisters.find(c.id) === c) c.addCycles(refund);
    if (t.epoch !== c.codeEpoch) {
      // Code was uninstalled or reinstalled since the call: its callbacks are gone.
      if (context.outstanding === 0 && !context.responded) {
        this.respond(context, {
          status: 'rejected', code: ReplicaRejectCode.CanisterError, errorCode: 'IC0537',
          message: `Canister ${c.id.toText()} was uninstalled or reinstalled while awaiting a response`,
        });
      }
      return;
    }
    const replied = result.status === 'replied';
    const msg: Message = {
      kind: replied ? 'reply_callback' : 'reject_callback',
      method: '', arg: replied ? result.reply : new Uint8Array(), caller: context.caller, time: this.clock.now(),
      cycles: refund, responded: context.responded, maxReplyBytes: MAX_UPDATE_REPLY_BYTES,
      reject: replied ? undefined : { code: result.code, message: result.message },
    };
    // The canister may have been uninstalled since it made the call.
    const run = (entry: Callback, m: Message): Outcome => {
      try {
        return c.execute(m, entry, true, context.instructions);
      } catch (e) {
        return { ok: false, code: 'IC0502', message: (e as Error).message, instructions: 0n };
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
    const context: CallContext = { origin: { kind: 'system' }, caller: c.id.toUint8Array(), responded: true, outstanding: 0, instructions: 0n, cycles: 0n };
    const msg: Message = {
      kind: 'timer', method: 'canister_global_timer', arg: new Uint8Array(), caller: c.id.toUint8Array(),
      time: this.clock.now(), cycles: 0n, responded: true, maxReplyBytes: 0,
    };
    this.settle(c, context, c.execute(msg, 'canister_global_timer', true));
  }

  /** Applies a message's outcome to its call context and sends its calls. */
  private settle(c: Canister, context: CallContext, outcome: Outcome): void {
    context.instructions += outcome.instructions;
    if (!outcome.ok) {
      if (context.origin.kind === 'system') this.log(`[Canister ${c.id.toText()}] timer trapped: ${outcome.message}`);
      // Other calls of this context may still come back and answer it.
      context.trap = trapped(c.id, outcome);
    } else {
      context.cycles -= outcome.effects.cyclesAccepted;
      const answer = answerOf(outcome.effects);
      if (answer) this.respond(context, answer);
      for (const call of outcome.effects.calls) {
        context.outstanding++;
        this.enqueue({
          kind: 'request', callee: Principal.fromUint8Array(call.callee), method: call.method, arg: call.arg,
          caller: c.id, cycles: call.cycles, origin: { kind: 'canister', caller: c, context, call, epoch: c.codeEpoch },
        });
      }
    }
    if (context.outstanding === 0 && !context.responded) {
      this.respond(context, context.trap ?? noResponse(c.id));
    }
  }

  private respond(context: CallContext, result: CallResult): void {
    context.responded = true;
    const o = context.origin;
    if (o.kind === 'ingress') {
      this.ingress.answer(o.requestId, result);
    } else if (o.kind === 'canister') {
      this.enqueue({ kind: 'response', canister: o.caller, context: o.context, call: o.call, epoch: o.epoch, result, refund: context.cycles });
    }
  }
}

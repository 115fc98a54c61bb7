// What a call ends with, as agents read it: a reply, or a reject with its
// reject code, IC error code and message.
import { ReplicaRejectCode } from '@dfinity/agent';
import type { Principal } from '@dfinity/principal';
import { RejectError } from './errors.ts';
import type { Effects, Outcome } from './message.ts';

export type CallResult =
  | { status: 'replied'; reply: Uint8Array }
  | { status: 'rejected'; code: ReplicaRejectCode; message: string; errorCode: string };

/** A thrown error as a reject: a RejectError keeps its codes, anything else is a canister error. */
export function rejected(e: unknown): CallResult {
  if (e instanceof RejectError) return { status: 'rejected', code: e.rejectCode, errorCode: e.errorCode, message: e.message };
  return { status: 'rejected', code: ReplicaRejectCode.CanisterError, errorCode: 'IC0502', message: (e as Error)?.message ?? String(e) };
}

/** The reject for a message that trapped in `canister`. */
export function trapped(canister: Principal, o: Extract<Outcome, { ok: false }>): CallResult {
  const reject = (message: string, code = ReplicaRejectCode.CanisterError): CallResult => ({ status: 'rejected', code, errorCode: o.code, message });
  // Being out of cycles is a transient system condition on a replica, not a canister error.
  if (o.code === 'IC0207') return reject(o.message, ReplicaRejectCode.SysTransient);
  const how = o.code === 'IC0522' ? '' : o.code === 'IC0503' ? 'Canister called `ic0.trap` with message: ' : 'Canister trapped: ';
  return reject(`Error from Canister ${canister.toText()}: ${how}${o.message}`);
}

/** The canister's own answer (msg_reply or msg_reject), if the message gave one. */
export function answerOf(e: Effects): CallResult | undefined {
  if (e.reply) return { status: 'replied', reply: e.reply };
  if (e.reject !== undefined) return { status: 'rejected', code: ReplicaRejectCode.CanisterReject, errorCode: 'IC0406', message: e.reject };
  return undefined;
}

/** The reject when a call context is left without an answer. */
export function noResponse(canister: Principal): CallResult {
  return { status: 'rejected', code: ReplicaRejectCode.CanisterError, errorCode: 'IC0506', message: `Canister ${canister.toText()} did not produce a response` };
}

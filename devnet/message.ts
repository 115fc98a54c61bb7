// What passes between the replica and a canister's wasm instance: the message
// an entry point handles, and the outcome it hands back.
import type { ReplicaRejectCode } from '@dfinity/agent';

/** `replicated_query`: a query method run by an update call, as a replica runs it. */
export type MessageKind =
  | 'start' | 'init' | 'pre_upgrade' | 'post_upgrade' | 'update' | 'query' | 'replicated_query' | 'timer'
  | 'reply_callback' | 'reject_callback' | 'cleanup' | 'inspect';

/** Messages a replica runs on one node only: in_replicated_execution is 0, and their prints and traps never reach the canister log. */
const NON_REPLICATED: readonly MessageKind[] = ['query', 'inspect'];
/** Query methods in either mode, and inspect_message: whatever they change is discarded, and they may not set a timer. */
const QUERIES: readonly MessageKind[] = ['query', 'replicated_query', 'inspect'];

/** Cycles that leave a canister with its calls. */
export const attachedCycles = (calls: readonly OutgoingCall[]): bigint => calls.reduce((sum, c) => sum + c.cycles, 0n);

export const isReplicated = (kind: MessageKind): boolean => !NON_REPLICATED.includes(kind);
export const isQuery = (kind: MessageKind): boolean => QUERIES.includes(kind);

/** What one entry point sees of the message it handles. */
export interface Message {
  kind: MessageKind;
  method: string;
  arg: Uint8Array;
  caller: Uint8Array;
  time: bigint;
  /** Reject code and message, in reject callbacks. */
  reject?: { code: ReplicaRejectCode; message: string };
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

/** The instructions a message may run: `available` counts down from what is left of `limit`. */
export interface Budget {
  /** The limit named in the error when it is exceeded. */
  limit: bigint;
  /** Less than `limit` when earlier parts of one install used some. */
  available: bigint;
  /** Instructions earlier messages of the same call context ran (performance_counter type 1). */
  callContext: bigint;
}

/** IC error codes for the ways a message can fail inside the canister. */
/** IC0207: the canister cannot pay for the message; IC0522: it ran out of instructions. */
export type TrapCode = 'IC0207' | 'IC0502' | 'IC0503' | 'IC0504' | 'IC0522';
/** Every outcome says how many instructions the message ran (0 when metering is off). */
export type Outcome =
  | { ok: true; effects: Effects; instructions: bigint }
  | { ok: false; code: TrapCode; message: string; instructions: bigint };

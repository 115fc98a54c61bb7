// What passes between the replica and a canister's wasm instance: the message
// an entry point handles, and the outcome it hands back.
import type { ReplicaRejectCode } from '@dfinity/agent';

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

/** IC error codes for the ways a message can fail inside the canister. */
export type TrapCode = 'IC0502' | 'IC0503' | 'IC0504';
export type Outcome =
  | { ok: true; effects: Effects }
  | { ok: false; code: TrapCode; message: string };

// What each System API call costs in instructions on a replica, charged before
// the call does its work (dfinity/ic rs/embedders: system_api_complexity.rs for
// the overheads, linker.rs for the byte charges, system_api_replacements.rs for
// stable memory; application subnets, where each byte also costs one instruction).
type Args = readonly (number | bigint)[];
export type Fee = (args: Args) => bigint;

/** Bytes sent out of the canister (replies, rejects, call arguments) cost 50 instructions each. */
const BYTE_TRANSMISSION_FACTOR = 50n;
/** A stable write pays this for each 4 KiB OS page it dirties first in a message. */
export const STABLE_DIRTY_PAGE = 1_000n;
export const STABLE_OS_PAGE = 4096;
/**
 * The room debug_print's byte charge is bounded by. The replica charges by the
 * room left in the canister log; the devnet, as a deliberate simplification,
 * charges as if the log always had 4 KiB free, whatever its limit and fill.
 */
const LOG_CAPACITY = 4096n;

/** An i32 or i64 operand as the unsigned size it stands for. */
const size = (v: number | bigint): bigint => (typeof v === 'bigint' ? BigInt.asUintN(64, v) : BigInt(v >>> 0));
const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
const logging = (len: bigint): bigint => 2n * min(len, LOG_CAPACITY) + BYTE_TRANSMISSION_FACTOR * min(len, LOG_CAPACITY);

const flat = (overhead: bigint): Fee => () => overhead;
/** `overhead` plus `factor` per byte of the size operand at `arg`. */
const perByte = (overhead: bigint, arg: number, factor = 1n): Fee => (args) => overhead + factor * size(args[arg]);

const FEES: Record<string, Fee> = {
  msg_reply_data_append: perByte(500n, 1, BYTE_TRANSMISSION_FACTOR),
  msg_reject: perByte(500n, 1, BYTE_TRANSMISSION_FACTOR),
  call_data_append: perByte(500n, 1, BYTE_TRANSMISSION_FACTOR),
  msg_arg_data_copy: perByte(500n, 2),
  msg_caller_copy: perByte(500n, 2),
  msg_method_name_copy: perByte(500n, 2),
  msg_reject_msg_copy: perByte(500n, 2),
  canister_self_copy: perByte(500n, 2),
  data_certificate_copy: perByte(500n, 2),
  certified_data_set: perByte(500n, 1),
  is_controller: perByte(1_000n, 1),
  call_new: (args) => 1_500n + size(args[1]) + size(args[3]),
  call_perform: flat(5_000n),
  performance_counter: flat(200n),
  debug_print: (args) => 100n + logging(size(args[1])),
  trap: (args) => 500n + size(args[1]) + logging(size(args[1])),
  // Stable memory is native on the replica: a small overhead plus one per byte.
  stable64_read: perByte(20n, 2),
  stable64_write: perByte(20n, 2),
  stable64_grow: flat(100n),
  stable64_size: flat(0n),
};

/** Every other System API call costs 500. */
const DEFAULT_FEE = flat(500n);

export function feeOf(name: string): Fee {
  return FEES[name] ?? DEFAULT_FEE;
}

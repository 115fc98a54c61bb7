// What the IC charges in cycles: the fee schedule of an application subnet and
// the formulas the replica applies (dfinity/ic rs/config/src/subnet_config.rs
// and rs/cycles_account_manager at commit 002d5530, with the storage fee the
// developer docs publish as of March 2026). The devnet charges with it; the CLI
// estimates with it. Every fee scales with the subnet's size over 13 nodes.

/** The subnet size the fees are quoted for. */
export const REFERENCE_SUBNET_SIZE = 13;

/** Fees of a 13-node application subnet, in cycles. */
export const FEES = {
  canisterCreation: 500_000_000_000n,
  updateMessageExecution: 5_000_000n,
  /** Per 10 instructions of a Wasm32 module: one cycle per instruction. */
  tenUpdateInstructions: 10n,
  ingressMessageReception: 1_200_000n,
  ingressByteReception: 2_000n,
  xnetCall: 260_000n,
  xnetByteTransmission: 1_000n,
  gibStoragePerSecond: 127_000n,
} as const;

/** The replica's default freezing threshold: 30 days. */
export const DEFAULT_FREEZING_THRESHOLD_SECONDS = 2_592_000n;

const GIB = 1n << 30n;
const DAY = 86_400n;
export const YEAR_SECONDS = 31_536_000n;

/** A fee for 13 nodes scaled to `subnetSize` nodes, multiplying first as the replica does. */
export function scale(cycles: bigint, subnetSize = REFERENCE_SUBNET_SIZE): bigint {
  return (cycles * BigInt(subnetSize)) / BigInt(REFERENCE_SUBNET_SIZE);
}

/** Executing one update, timer or callback message that ran `instructions`. */
export function executionCost(instructions: bigint, subnetSize?: number): bigint {
  return scale(FEES.updateMessageExecution + (FEES.tenUpdateInstructions * instructions) / 10n, subnetSize);
}

/** Inducting an ingress message whose signed envelope is `bytes` long. */
export function ingressCost(bytes: bigint, subnetSize?: number): bigint {
  return scale(FEES.ingressMessageReception + FEES.ingressByteReception * bytes, subnetSize);
}

/** An inter-canister call of `bytes` (method name plus payload). */
export function xnetCallCost(bytes: bigint, subnetSize?: number): bigint {
  return scale(FEES.xnetCall + FEES.xnetByteTransmission * bytes, subnetSize);
}

/** Keeping `bytes` of canister memory for `seconds`. */
export function storageCost(bytes: bigint, seconds: bigint, subnetSize?: number): bigint {
  return scale((bytes * FEES.gibStoragePerSecond * seconds) / GIB, subnetSize);
}

/** What a canister of `memoryBytes` burns per day doing nothing. */
export function idleBurnPerDay(memoryBytes: bigint, subnetSize?: number): bigint {
  return storageCost(memoryBytes, DAY, subnetSize);
}

/**
 * The balance below which a canister is frozen: what it would burn idle over
 * its freezing threshold. A frozen canister runs no updates and answers no queries.
 */
export function freezingThresholdCycles(memoryBytes: bigint, thresholdSeconds: bigint, subnetSize?: number): bigint {
  return freezingThresholdFromBurn(idleBurnPerDay(memoryBytes, subnetSize), thresholdSeconds);
}

/** The freezing threshold of a canister that burns `burnPerDay` idle (as canister_status reports it). */
export function freezingThresholdFromBurn(burnPerDay: bigint, thresholdSeconds: bigint): bigint {
  return (burnPerDay * thresholdSeconds) / DAY;
}

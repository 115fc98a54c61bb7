// What the icboot canister's update methods cost in Wasm instructions, as
// linear models of their input: the upload dry run turns them into cycles.
// Measured on the devnet with instruction metering on (`bench/canister.ts`,
// table in docs/canister.md); measure again whenever the canister, azle or the
// shared rules it bundles change.

/** put_chunks: `base` per call, `perChunk` for each chunk in it, `perByte` for each byte of chunk data. */
export interface PutChunksCost {
  base: bigint;
  perChunk: bigint;
  perByte: bigint;
}

/**
 * create_release: `base` per call, `perFile` and `perPathByte` for each file
 * and byte of its path (decoding Candid text is per-character work in
 * QuickJS), `perChunk` for each chunk the files name (hashing its manifest
 * line dominates).
 */
export interface CreateReleaseCost {
  base: bigint;
  perFile: bigint;
  perPathByte: bigint;
  perChunk: bigint;
}

/** publish: one `base` per call, for an index of about ten releases (it grows by 28 M per kB of index). */
export interface PublishCost {
  base: bigint;
}

export interface CanisterCosts {
  put_chunks: PutChunksCost;
  create_release: CreateReleaseCost;
  publish: PublishCost;
}

export const CANISTER_COSTS: CanisterCosts = {
  // 3.0 M for each chunk in a call, and per byte what a 2 GiB upload of 1 MiB chunks averaged
  // (196 B cycles for 2,048 calls): the chunk map rewrites a leaf's values with each insert,
  // so one chunk costs 49 M in an empty map and up to 150 M as leaves fill.
  put_chunks: { base: 300_000n, perChunk: 3_000_000n, perByte: 85n },
  // 2.64 B per 1,000 chunks; 6.24 B per 1,000 files of 40-byte paths; 42.8 B per MB of 900-byte paths.
  create_release: { base: 50_000_000n, perFile: 4_500_000n, perPathByte: 43_000n, perChunk: 2_640_000n },
  // 3.5 M + 27.9 M per kB of index; ten releases make about 2.5 kB.
  publish: { base: 75_000_000n },
};

/** Instructions of one put_chunks call carrying `chunks` chunks of `dataBytes` in all. */
export function putChunksInstructions(chunks: bigint, dataBytes: bigint, c: PutChunksCost = CANISTER_COSTS.put_chunks): bigint {
  return c.base + c.perChunk * chunks + c.perByte * dataBytes;
}

/** Instructions of one create_release call for `files` files whose paths have `pathBytes` in all, naming `chunks` chunks. */
export function createReleaseInstructions(files: bigint, pathBytes: bigint, chunks: bigint, c: CreateReleaseCost = CANISTER_COSTS.create_release): bigint {
  return c.base + c.perFile * files + c.perPathByte * pathBytes + c.perChunk * chunks;
}

// What the icboot canister's update methods cost in Wasm instructions, as
// linear models of their input: the upload dry run turns them into cycles.
// They are measured on the devnet with instruction metering on (the bench is
// `npm run bench`; see docs/cycles.md) and must be measured again whenever the
// canister, azle or the shared rules it bundles change.

/** put_chunks: `base` per call plus `perByte` for each byte of chunk data in it. */
export interface PutChunksCost {
  base: bigint;
  perByte: bigint;
}

/** create_release: `base` per call, `perChunk` for each chunk the files name, `perManifestByte` for each byte of the manifest it writes. */
export interface CreateReleaseCost {
  base: bigint;
  perChunk: bigint;
  perManifestByte: bigint;
}

/** publish: one `base` per call (it rewrites and re-certifies the index). */
export interface PublishCost {
  base: bigint;
}

export interface CanisterCosts {
  put_chunks: PutChunksCost;
  create_release: CreateReleaseCost;
  publish: PublishCost;
}

export const CANISTER_COSTS: CanisterCosts = {
  put_chunks: {
    base: 20_000_000n, // measured: pending
    perByte: 10n, // measured: pending
  },
  create_release: {
    base: 30_000_000n, // measured: pending
    perChunk: 100_000n, // measured: pending
    perManifestByte: 1_000n, // measured: pending
  },
  publish: {
    base: 30_000_000n, // measured: pending
  },
};

/** Instructions of one put_chunks call carrying `dataBytes` of chunk data. */
export function putChunksInstructions(dataBytes: bigint, c: PutChunksCost = CANISTER_COSTS.put_chunks): bigint {
  return c.base + c.perByte * dataBytes;
}

/** Instructions of one create_release call naming `chunks` chunks and writing a manifest of `manifestBytes`. */
export function createReleaseInstructions(chunks: bigint, manifestBytes: bigint, c: CreateReleaseCost = CANISTER_COSTS.create_release): bigint {
  return c.base + c.perChunk * chunks + c.perManifestByte * manifestBytes;
}

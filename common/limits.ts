// Input bounds of the icboot canister, chosen so that every call stays under
// the IC's limits: 2 MiB ingress per write, 3 MiB per query reply, and at most
// half of a message's instruction limit (40 B for an update, 5 B for a query),
// as measured on the metered devnet (bench/canister.ts; docs/canister.md has
// the table). Measure again before raising any of them.

/** Largest chunk: one chunk per put_chunks call still fits in 2 MiB of ingress. */
export const MAX_CHUNK_BYTES = 1_900_000;
/** Smallest chunk size a release may declare. */
export const MIN_CHUNK_SIZE = 4096;
/** Bytes of chunk data per put_chunks call. */
export const MAX_PUT_BYTES = 1_950_000;
export const MAX_PATH_BYTES = 1024;
export const MAX_PATH_DEPTH = 32;
export const MAX_SEGMENT_BYTES = 255;
/**
 * Files per release: create_release costs about 6.3 M instructions per file
 * (its path's Candid text and the manifest bytes it adds, hashed in QuickJS).
 */
export const MAX_FILES = 2_000;
/**
 * Chunks per release: about 2.6 M instructions each in create_release, mostly
 * SHA-256 of their 67 manifest bytes; 5,000 chunks of 1 MiB is a 4.9 GiB tree.
 */
export const MAX_CHUNKS_PER_RELEASE = 5_000;
/**
 * The manifest, which create_release hashes at about 24,500 instructions per
 * byte: at most 43,000 per byte in all, whatever the tree's shape.
 */
export const MAX_MANIFEST_BYTES = 350_000;
/** Releases kept: every write hashes the whole index, about 28,000 instructions per byte. */
export const MAX_RELEASES = 100;
export const MAX_LABEL_BYTES = 256;
export const MAX_AUTHORIZED = 100;
/** Hashes per missing_chunks query: about 280,000 instructions each when missing. */
export const MAX_QUERY_HASHES = 6_000;
/** Chunks deleted per gc call. */
export const MAX_GC_BATCH = 200;

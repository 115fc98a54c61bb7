// Input bounds of the icboot canister, chosen so that every call stays under
// the IC's limits: 2 MiB ingress per write, 3 MiB per query reply, and
// instruction budgets well under 40 B (update) / 5 B (query).

/** Largest chunk: one chunk per put_chunks call still fits in 2 MiB of ingress. */
export const MAX_CHUNK_BYTES = 1_900_000;
/** Smallest chunk size a release may declare. */
export const MIN_CHUNK_SIZE = 4096;
/** Bytes of chunk data per put_chunks call. */
export const MAX_PUT_BYTES = 1_950_000;
export const MAX_PATH_BYTES = 1024;
export const MAX_PATH_DEPTH = 32;
export const MAX_SEGMENT_BYTES = 255;
export const MAX_FILES = 20_000;
/**
 * Chunks per release: their hashes (~36 bytes each in Candid) must fit one
 * create_release call and (~67 bytes each in JSON) the manifest; 30k chunks
 * of 1 MiB is a 29 GiB tree.
 */
export const MAX_CHUNKS_PER_RELEASE = 30_000;
/** The manifest must fit a query reply with room to spare. */
export const MAX_MANIFEST_BYTES = 2_500_000;
export const MAX_RELEASES = 500;
export const MAX_LABEL_BYTES = 256;
export const MAX_AUTHORIZED = 100;
/** Hashes per missing_chunks query. */
export const MAX_QUERY_HASHES = 20_000;
/** Chunks deleted per gc call. */
export const MAX_GC_BATCH = 200;

// Packing chunks into put_chunks calls: the fewest calls, in order, that each
// stay within the canister's per-call byte limit.
import { MAX_PUT_BYTES } from '../common/limits.ts';

/** Candid framing per chunk in a put_chunks call: the 32-byte hash and lengths. */
export const PER_CHUNK_OVERHEAD = 48;

/**
 * Groups chunks, keeping their order, into calls whose bytes (data plus
 * framing) stay within MAX_PUT_BYTES. A call is closed only when the next chunk
 * would not fit; a chunk over the limit still gets a call of its own (callers
 * bound the chunk size).
 */
export function packPutCalls<T extends { size: number }>(chunks: readonly T[]): T[][] {
  const calls: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const c of chunks) {
    if (bytes + c.size + PER_CHUNK_OVERHEAD > MAX_PUT_BYTES && current.length > 0) {
      calls.push(current);
      current = [];
      bytes = 0;
    }
    current.push(c);
    bytes += c.size + PER_CHUNK_OVERHEAD;
  }
  if (current.length > 0) calls.push(current);
  return calls;
}

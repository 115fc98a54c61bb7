// Loading a release's chunks into the cache ahead of requests (--prefetch).
import type { ChunkCache } from './cache.ts';
import type { Snapshot } from './release.ts';

/** Workers fetching at once: enough to hide a query's latency, few enough to leave the canister to boots. */
const WORKERS = 2;

export interface Warmed {
  /** Distinct chunks loaded, and the release's total. */
  chunks: number;
  of: number;
  bytes: number;
}

/** Loads the release's distinct chunks while the cache has room for them; rejects with the first failure. */
export async function warm(cache: Pick<ChunkCache, 'get' | 'hasRoomFor'>, snap: Snapshot): Promise<Warmed> {
  const chunks = [...new Set(snap.manifest.files.flatMap((f) => f.chunks))];
  let next = 0;
  const done = { chunks: 0, of: chunks.length, bytes: 0 };
  const worker = async (): Promise<void> => {
    while (next < chunks.length && cache.hasRoomFor(snap.manifest.chunk_size)) {
      // Awaited apart from the sums: `done.bytes += await …` reads done.bytes before the other worker adds to it.
      const chunk = await cache.get(chunks[next++]);
      done.chunks++;
      done.bytes += chunk.length;
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, worker));
  return done;
}

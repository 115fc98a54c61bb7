// Loading a release's chunks into the cache ahead of requests (--prefetch).
// A gateway that has just started races the first boots: the kernels and
// initrds the machine profiles name go first, in the order a boot reads them.
import type { Manifest } from '../common/manifest.ts';
import type { Machines } from '../common/machines/types.ts';
import type { ChunkCache } from './cache.ts';
import type { ReleaseMachines } from './machines/index.ts';
import type { Snapshot } from './release.ts';

/** Workers fetching at once: enough to hide a query's latency, few enough to leave the canister to boots. */
const WORKERS = 2;

export interface Warmed {
  /** Distinct chunks loaded, and the release's total. */
  chunks: number;
  of: number;
  bytes: number;
}

/**
 * The files machines boot, most booted first: the default group's profile (every machine without a group of its
 * own), then the other groups' in their order; each profile's kernel before its initrds, as boot loaders read them.
 */
export function bootPaths(m: Machines): string[] {
  const groups = [...m.groups.filter((g) => Object.keys(g.selector).length === 0), ...m.groups.filter((g) => Object.keys(g.selector).length > 0)];
  return [...new Set(groups.flatMap((g) => {
    const p = m.profiles.get(g.profile);
    return p ? [p.kernel, ...p.initrds] : [];
  }))];
}

/** The release's distinct chunks: those of the `first` paths in that order, then the rest in manifest order. */
export function warmOrder(manifest: Manifest, first: string[]): string[] {
  const byPath = new Map(manifest.files.map((f) => [f.path, f]));
  const leading = first.flatMap((p) => byPath.get(p)?.chunks ?? []);
  return [...new Set([...leading, ...manifest.files.flatMap((f) => f.chunks)])];
}

/**
 * Loads the release's distinct chunks while the cache has room for them, the boot files of `machines` first
 * (none when the release has no valid icboot/, which ReleaseMachines logs); rejects with the first failure.
 */
export async function warm(cache: Pick<ChunkCache, 'get' | 'hasRoomFor'>, snap: Snapshot, machines?: Pick<ReleaseMachines, 'current'>): Promise<Warmed> {
  const state = await machines?.current();
  const first = state?.kind === 'machines' && state.release === snap.manifest.id ? bootPaths(state.machines) : [];
  const chunks = warmOrder(snap.manifest, first);
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

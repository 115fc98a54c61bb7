// What the status page shows, built from the activity record: the release,
// the cache, transfers in progress, recent boots and errors. The stream
// (status_stream.ts) serialises it once per tick for every page.
import type { Activity } from './activity.ts';

/** Nanoseconds since the epoch (a manifest's `created`) as ms, or null. */
const createdMs = (ns: string): number | null => (/^\d+$/.test(ns) ? Number(BigInt(ns) / 1_000_000n) : null);

/** What the page shows; the time it is sent at travels beside it, so an unchanged view can be told apart. */
export function statusView(a: Activity) {
  const s = a.release;
  const fill = a.cacheFill();
  const hits = a.counts.cacheHits.memory + a.counts.cacheHits.disk;
  const asked = hits + a.counts.cacheMisses;
  return {
    release: s && {
      id: s.manifest.id, label: s.manifest.label, author: s.manifest.author, created: createdMs(s.manifest.created),
      files: s.manifest.files.length, bytes: s.manifest.files.reduce((n, f) => n + f.size, 0),
      certifiedAt: a.certifiedAt, origin: s.origin,
    },
    cache: { ...fill, hits, misses: a.counts.cacheMisses, hitRate: asked === 0 ? null : hits / asked },
    live: [...a.live.values()].map((t) => ({
      id: t.id, protocol: t.protocol, client: t.client, mac: a.macOf(t.client), path: t.path, size: t.size, bytes: t.bytes, started: t.started,
    })),
    boots: [...a.boots.values()].reverse(),
    errors: [...a.errors].reverse(),
  };
}

// Path → manifest entry → verified byte stream through the chunk cache, with
// read-ahead so a sequential transfer does not wait on the canister.
import { chunkAt, chunkRange } from '../common/chunks.ts';
import type { ManifestFile } from '../common/manifest.ts';
import { verifiedFile } from '../client/verify.ts';
import type { ChunkCache } from './cache.ts';
import type { ReleaseTracker } from './release.ts';

/** Chunks requested ahead of the one being sent: 8 MiB hide ~0.5 s of canister latency at 16 MB/s. */
const READ_AHEAD = 8;

export interface OpenFile {
  file: ManifestFile;
  release: number;
  /** The whole file; its last chunk is held until the whole-file hash checks out. */
  stream(): AsyncIterable<Uint8Array>;
  /** Bytes [start, end] (inclusive), each chunk verified on its own. */
  range(start: number, end: number): AsyncIterable<Uint8Array>;
}

export class Files {
  constructor(private readonly release: Pick<ReleaseTracker, 'snapshot'>, private readonly cache: ChunkCache) {}

  /** The file at `path` in the release being served now, or null. */
  open(path: string): OpenFile | null {
    const snap = this.release.snapshot;
    const file = snap?.files.get(path);
    if (!snap || !file) return null;
    const chunkSize = snap.manifest.chunk_size;
    const cache = this.cache;
    return {
      file,
      release: snap.manifest.id,
      stream: () => verifiedFile(file, (h) => cache.get(h), (h) => cache.prefetch(h), READ_AHEAD),
      async *range(start: number, end: number) {
        const first = chunkAt(start, chunkSize);
        const last = chunkAt(end, chunkSize);
        for (let i = first; i <= last; i++) {
          for (let k = i + 1; k <= Math.min(i + READ_AHEAD, last); k++) cache.prefetch(file.chunks[k]);
          const data = await cache.get(file.chunks[i]);
          const { start: at } = chunkRange(file.size, chunkSize, i);
          yield data.subarray(Math.max(0, start - at), Math.min(data.length, end - at + 1));
        }
      },
    };
  }
}

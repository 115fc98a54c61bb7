// For unit tests: a release held in memory, its manifest and chunks built from
// file texts, so the machines code runs on verified reads without a canister.
import { createHash } from 'node:crypto';
import type { Manifest } from '../../common/manifest.ts';
import type { Snapshot } from '../release.ts';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export interface MemoryRelease {
  snapshot: Snapshot;
  /** Chunk hash → bytes; one chunk per non-empty file. */
  chunks: Map<string, Uint8Array>;
}

export function memoryRelease(id: number, files: Record<string, string>): MemoryRelease {
  const chunks = new Map<string, Uint8Array>();
  const manifest: Manifest = {
    version: 1, id, label: 'test', author: 'test', created: '0', chunk_size: 1 << 20,
    files: Object.entries(files).map(([path, text]) => {
      const bytes = new TextEncoder().encode(text);
      const hash = sha256(bytes);
      chunks.set(hash, bytes);
      return { path, size: bytes.length, sha256: hash, chunks: bytes.length ? [hash] : [] };
    }),
  };
  return { snapshot: { manifest, files: new Map(manifest.files.map((f) => [f.path, f])), origin: 'canister', certifiedAt: 0 }, chunks };
}

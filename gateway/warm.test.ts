import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { ChunkCache } from './cache.ts';
import { LogThrottle } from './log.ts';
import type { Snapshot } from './release.ts';
import { warm } from './warm.ts';

const hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('warm', () => {
  it('counts every byte loaded, however the two workers interleave', async () => {
    // Chunks of different sizes, fetched with different delays, so the workers' awaits overlap.
    const chunks = Array.from({ length: 40 }, (_, i) => new Uint8Array(1000 + i * 37).fill(i));
    const byHash = new Map(chunks.map((c) => [hex(c), c]));
    const hashes = [...byHash.keys()];
    const cache = new ChunkCache({
      memBytes: 1 << 24, diskBytes: 0, fetchTimeoutMs: 10_000, log: () => {}, notices: new LogThrottle(() => {}),
      fetch: async (h) => {
        await new Promise((r) => setImmediate(r));
        if (hashes.indexOf(h) % 3 === 0) await new Promise((r) => setImmediate(r));
        return byHash.get(h)!;
      },
    });
    const snap = {
      manifest: {
        version: 1, id: 7, label: '', author: '', created: '0', chunk_size: 4096,
        // One chunk in two files: counted once.
        files: [{ path: 'a', size: 0, sha256: '', chunks: hashes.slice(0, 25) }, { path: 'b', size: 0, sha256: '', chunks: hashes.slice(20) }],
      },
    } as unknown as Snapshot;
    const w = await warm(cache, snap);
    assert.deepEqual(w, { chunks: 40, of: 40, bytes: chunks.reduce((n, c) => n + c.length, 0) });
    assert.equal(cache.fill.memory, w.bytes);
  });

  it('stops when the cache is full, counting what it loaded', async () => {
    const chunks = Array.from({ length: 10 }, (_, i) => new Uint8Array(1024).fill(i));
    const byHash = new Map(chunks.map((c) => [hex(c), c]));
    const cache = new ChunkCache({
      memBytes: 4096, diskBytes: 0, fetchTimeoutMs: 10_000, log: () => {}, notices: new LogThrottle(() => {}),
      fetch: async (h) => byHash.get(h)!,
    });
    const snap = { manifest: { chunk_size: 1024, files: [{ chunks: [...byHash.keys()] }] } } as unknown as Snapshot;
    const w = await warm(cache, snap);
    assert.ok(w.chunks >= 4 && w.chunks < 10, `${w.chunks} chunks`);
    assert.equal(w.bytes, w.chunks * 1024);
  });
});

// The gateway's chunk cache: single flight, memory budget, verified disk cache.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { TransientError } from '../client/errors.ts';
import { ChunkCache } from '../gateway/cache.ts';
import { tempDir } from '../lab/devnet.ts';

const hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A canister stand-in that counts how often each chunk is fetched. */
function store(chunks: Uint8Array[]) {
  const byHash = new Map(chunks.map((c) => [hex(c), c]));
  const calls = new Map<string, number>();
  return {
    calls,
    fetch: async (hash: string): Promise<Uint8Array> => {
      calls.set(hash, (calls.get(hash) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 20));
      const c = byHash.get(hash);
      if (!c) throw new Error('unreachable');
      return c;
    },
  };
}

describe('chunk cache', () => {
  it('fetches a chunk once for a hundred concurrent readers', async () => {
    const chunk = randomBytes(1000);
    const s = store([chunk]);
    const cache = new ChunkCache({ fetchTimeoutMs: 10_000, memBytes: 1 << 20, diskBytes: 0, fetch: s.fetch });
    const got = await Promise.all(Array.from({ length: 100 }, () => cache.get(hex(chunk))));
    assert.ok(got.every((g) => Buffer.from(g).equals(chunk)));
    assert.equal(s.calls.get(hex(chunk)), 1);
  });

  it('keeps within its memory budget, least recently used out first', async () => {
    const chunks = [randomBytes(400), randomBytes(400), randomBytes(400)];
    const s = store(chunks);
    const cache = new ChunkCache({ fetchTimeoutMs: 10_000, memBytes: 1000, diskBytes: 0, fetch: s.fetch });
    for (const c of chunks) await cache.get(hex(c));
    assert.ok(cache.stats.memBytes <= 1000);
    await cache.get(hex(chunks[2]));
    await cache.get(hex(chunks[0]));
    assert.equal(s.calls.get(hex(chunks[2])), 1, 'recent chunk stayed');
    assert.equal(s.calls.get(hex(chunks[0])), 2, 'oldest chunk was evicted');
  });

  it('never caches or returns bytes that do not match their hash', async () => {
    const chunk = randomBytes(100);
    const liar = async (): Promise<Uint8Array> => randomBytes(100);
    const cache = new ChunkCache({ fetchTimeoutMs: 10_000, memBytes: 1 << 20, diskBytes: 0, fetch: liar, attempts: 2 });
    await assert.rejects(cache.get(hex(chunk)), /does not match its hash/);
    assert.equal(cache.stats.memBytes, 0);
  });

  it('fails a chunk the canister never answers for within its bound, and still serves cached ones', async () => {
    const cachedChunk = randomBytes(300);
    const s = store([cachedChunk]);
    let stalled = false;
    const cache = new ChunkCache({
      fetchTimeoutMs: 300, memBytes: 1 << 20, diskBytes: 0,
      fetch: (hash) => (stalled ? new Promise<Uint8Array>(() => {}) : s.fetch(hash)),
    });
    await cache.get(hex(cachedChunk));
    stalled = true;
    await assert.rejects(cache.get(hex(randomBytes(300))), (e: Error) => e instanceof TransientError && /no answer within 0.3 s/.test(e.message));
    assert.ok(Buffer.from(await cache.get(hex(cachedChunk))).equals(cachedChunk));
  });

  it('serves from disk after a restart, and drops a corrupted disk entry', async () => {
    const dir = tempDir('cache');
    const chunks = [randomBytes(500), randomBytes(500)];
    const s = store(chunks);
    const first = new ChunkCache({ fetchTimeoutMs: 10_000, memBytes: 1 << 20, dir, diskBytes: 1 << 20, fetch: s.fetch });
    for (const c of chunks) await first.get(hex(c));
    const offline = new ChunkCache({ fetchTimeoutMs: 10_000, memBytes: 1 << 20, dir, diskBytes: 1 << 20, fetch: async () => { throw new Error('canister unreachable'); }, attempts: 1 });
    assert.ok(Buffer.from(await offline.get(hex(chunks[0]))).equals(chunks[0]));
    const sub = hex(chunks[1]).slice(0, 2);
    writeFileSync(join(dir, sub, hex(chunks[1])), randomBytes(500));
    const restarted = new ChunkCache({ fetchTimeoutMs: 10_000, memBytes: 1 << 20, dir, diskBytes: 1 << 20, fetch: s.fetch });
    assert.ok(Buffer.from(await restarted.get(hex(chunks[1]))).equals(chunks[1]));
    assert.equal(s.calls.get(hex(chunks[1])), 2, 'the corrupted entry was fetched again');
    // And kept within the disk budget.
    const small = new ChunkCache({ fetchTimeoutMs: 10_000, memBytes: 1 << 20, dir, diskBytes: 600, fetch: s.fetch });
    assert.ok(small.stats.diskBytes <= 600);
    assert.ok(readdirSync(dir).length >= 1);
  });
});

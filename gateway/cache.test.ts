// The gateway's chunk cache: single flight, memory budget, verified disk cache,
// and read-ahead whose failures are logged rather than lost.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { IntegrityError, TransientError } from '../client/errors.ts';
import { tempDir } from '../lab/devnet.ts';
import { until } from '../lab/poll.ts';
import { ChunkCache, type CacheOptions } from './cache.ts';
import { LogThrottle } from './log.ts';

const hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A canister stand-in that counts how often each chunk is fetched, and answers on a later turn of the event loop. */
function store(chunks: Uint8Array[]) {
  const byHash = new Map(chunks.map((c) => [hex(c), c]));
  const calls = new Map<string, number>();
  return {
    calls,
    fetch: async (hash: string): Promise<Uint8Array> => {
      calls.set(hash, (calls.get(hash) ?? 0) + 1);
      await new Promise(setImmediate);
      const c = byHash.get(hash);
      if (!c) throw new TransientError('canister unreachable');
      return c;
    },
  };
}

/** The files holding chunks (`<dir>/ab/ab…`), not the two-digit subdirectories, which are never removed. */
function chunkFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((sub) => readdirSync(join(dir, sub)).filter((name) => /^[0-9a-f]{64}$/.test(name)).map((name) => join(dir, sub, name)));
}

const root = tempDir('cache');
after(() => rmSync(root, { recursive: true, force: true }));
const newDir = (): string => mkdtempSync(join(root, 'd-'));

/** A cache logging to `log`, with a throttle period no slow machine outlasts, so "once a period" means once in the test. */
function cacheOf(o: Omit<CacheOptions, 'log' | 'notices'>, log: (line: string) => void = () => {}): ChunkCache {
  return new ChunkCache({ ...o, log, notices: new LogThrottle(log, 3_600_000) });
}

describe('chunk cache', () => {
  it('fetches a chunk once for a hundred concurrent readers', async () => {
    const chunk = randomBytes(1000);
    const s = store([chunk]);
    const cache = cacheOf({ fetchTimeoutMs: 10_000, memBytes: 1 << 20, diskBytes: 0, fetch: s.fetch });
    const got = await Promise.all(Array.from({ length: 100 }, () => cache.get(hex(chunk))));
    assert.ok(got.every((g) => Buffer.from(g).equals(chunk)));
    assert.equal(s.calls.get(hex(chunk)), 1);
  });

  it('keeps within its memory budget, least recently used out first', async () => {
    const chunks = [randomBytes(400), randomBytes(400), randomBytes(400)];
    const s = store(chunks);
    const cache = cacheOf({ fetchTimeoutMs: 10_000, memBytes: 1000, diskBytes: 0, fetch: s.fetch });
    const fetches = (i: number): number | undefined => s.calls.get(hex(chunks[i]));
    for (const c of chunks) await cache.get(hex(c));
    // Two 400-byte chunks fit in 1000 bytes, three do not.
    await cache.get(hex(chunks[1]));
    await cache.get(hex(chunks[2]));
    assert.deepEqual([fetches(1), fetches(2)], [1, 1], 'the two recent chunks stayed');
    await cache.get(hex(chunks[0]));
    assert.equal(fetches(0), 2, 'oldest chunk was evicted');
    await cache.get(hex(chunks[2]));
    await cache.get(hex(chunks[1]));
    assert.equal(fetches(2), 1, 'recent chunk stayed');
    assert.equal(fetches(1), 2, 'the least recently used chunk made room for the refetched one');
  });

  it('never caches or returns bytes that do not match their hash', async () => {
    const chunk = randomBytes(100);
    const s = store([chunk]);
    let lying = true;
    const cache = cacheOf({
      // Each lie comes back at once, so the bound ends the retries (after three) with the last lie's error, not its own.
      fetchTimeoutMs: 1_000, memBytes: 1 << 20, diskBytes: 0,
      fetch: async (hash) => (lying ? randomBytes(100) : s.fetch(hash)),
    });
    await assert.rejects(cache.get(hex(chunk)), IntegrityError);
    lying = false;
    assert.ok(Buffer.from(await cache.get(hex(chunk))).equals(chunk), 'no lie was kept');
    assert.equal(s.calls.get(hex(chunk)), 1);
  });

  it('fails a chunk the canister never answers for within its bound, and still serves cached ones', async () => {
    const cachedChunk = randomBytes(300);
    const s = store([cachedChunk]);
    let stalled = false;
    const cache = cacheOf({
      fetchTimeoutMs: 300, memBytes: 1 << 20, diskBytes: 0,
      fetch: (hash) => (stalled ? new Promise<Uint8Array>(() => {}) : s.fetch(hash)),
    });
    await cache.get(hex(cachedChunk));
    stalled = true;
    // The stalled fetch never settles, so the TransientError can only be the bound's.
    await assert.rejects(cache.get(hex(randomBytes(300))), TransientError);
    assert.ok(Buffer.from(await cache.get(hex(cachedChunk))).equals(cachedChunk));
  });

  it('serves from disk after a restart, drops a corrupted disk entry, and removes chunk files beyond its disk budget', async () => {
    const dir = newDir();
    const chunks = [randomBytes(500), randomBytes(500)];
    const s = store(chunks);
    const first = cacheOf({ fetchTimeoutMs: 10_000, memBytes: 1 << 20, dir, diskBytes: 1 << 20, fetch: s.fetch });
    for (const c of chunks) await first.get(hex(c));
    assert.equal(chunkFiles(dir).length, 2, 'both chunks were written');
    const offline = cacheOf({
      fetchTimeoutMs: 10_000, memBytes: 1 << 20, dir, diskBytes: 1 << 20,
      fetch: async () => { throw new Error('canister unreachable'); },
    });
    assert.ok(Buffer.from(await offline.get(hex(chunks[0]))).equals(chunks[0]));
    const sub = hex(chunks[1]).slice(0, 2);
    writeFileSync(join(dir, sub, hex(chunks[1])), randomBytes(500));
    const restarted = cacheOf({ fetchTimeoutMs: 10_000, memBytes: 1 << 20, dir, diskBytes: 1 << 20, fetch: s.fetch });
    assert.ok(Buffer.from(await restarted.get(hex(chunks[1]))).equals(chunks[1]));
    assert.equal(s.calls.get(hex(chunks[1])), 2, 'the corrupted entry was fetched again');
    // And kept within the disk budget: of two 500-byte chunks, one fits in 600 bytes.
    cacheOf({ fetchTimeoutMs: 10_000, memBytes: 1 << 20, dir, diskBytes: 600, fetch: s.fetch });
    const left = chunkFiles(dir);
    assert.equal(left.length, 1, 'one chunk file is left on disk');
    assert.ok(left.reduce((sum, f) => sum + statSync(f).size, 0) <= 600);
  });

  it('logs a disk entry it cannot read, and fetches that chunk again', async () => {
    const dir = newDir();
    const chunk = randomBytes(500);
    const s = store([chunk]);
    const lines: string[] = [];
    await cacheOf({ fetchTimeoutMs: 10_000, memBytes: 1 << 20, dir, diskBytes: 1 << 20, fetch: s.fetch }).get(hex(chunk));
    const file = join(dir, hex(chunk).slice(0, 2), hex(chunk));
    // Unreadable even as root: a directory where the chunk file was.
    rmSync(file);
    mkdirSync(file);
    writeFileSync(join(file, 'x'), 'x');
    const restarted = cacheOf({ fetchTimeoutMs: 10_000, memBytes: 1 << 20, dir, diskBytes: 1 << 20, fetch: s.fetch }, (l) => lines.push(l));
    assert.ok(Buffer.from(await restarted.get(hex(chunk))).equals(chunk));
    assert.equal(s.calls.get(hex(chunk)), 2, 'fetched again');
    assert.ok(lines.some((l) => l.startsWith(`cache: cannot read ${file}: `) && l.endsWith('; fetching it from the canister')), lines.join('\n'));
  });

  it('logs failed read-ahead, throttled, keeps no failure, and leaves no rejection unhandled', async () => {
    const chunk = randomBytes(200);
    const s = store([chunk]);
    let up = false;
    const lines: string[] = [];
    const cache = cacheOf(
      {
        // Each failure comes back at once, so the bound ends the retries (after three) with the fetcher's own error.
        fetchTimeoutMs: 1_000, memBytes: 1 << 20, diskBytes: 0,
        fetch: (hash) => (up ? s.fetch(hash) : Promise.reject(new TransientError('canister unreachable'))),
      },
      (l) => lines.push(l),
    );
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => {
      unhandled.push(e);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const first = hex(randomBytes(200));
      cache.prefetch(first);
      await until(() => lines.length > 0, 'the failed read-ahead logged');
      assert.deepEqual(lines, [`cache: read-ahead of chunk ${first} failed: canister unreachable`]);
      // Node reports a rejection nobody handled once a turn's microtasks have run; this is a later turn.
      await new Promise(setImmediate);
      assert.deepEqual(unhandled, []);
      // More failures in the same period add no line.
      const more = [...Array.from({ length: 5 }, () => hex(randomBytes(200))), hex(chunk)];
      for (const h of more) cache.prefetch(h);
      // A get() joins the read-ahead in flight, and settles after the read-ahead's own handler has run.
      const joined = await Promise.allSettled(more.map((h) => cache.get(h)));
      assert.ok(joined.every((r) => r.status === 'rejected' && r.reason instanceof TransientError));
      assert.equal(lines.length, 1, lines.join('\n'));
      // The failure was not kept: the chunk is fetched again when needed.
      up = true;
      assert.ok(Buffer.from(await cache.get(hex(chunk))).equals(chunk));
      assert.equal(s.calls.get(hex(chunk)), 1);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

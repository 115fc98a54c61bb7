import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { ChunkCache } from './cache.ts';
import { LogThrottle } from './log.ts';
import type { Machines } from '../common/machines/types.ts';
import { ReleaseMachines } from './machines/index.ts';
import { memoryRelease } from './machines/memory_release.ts';
import type { Snapshot } from './release.ts';
import { bootPaths, warm, warmOrder } from './warm.ts';

const hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A cache over the release's chunks that records the path of each chunk it fetches, in order. */
function recordingCache(r: ReturnType<typeof memoryRelease>, yieldBetween = false): { cache: ChunkCache; fetched: string[] } {
  const fetched: string[] = [];
  const pathOf = new Map(r.snapshot.manifest.files.map((f) => [f.chunks[0], f.path]));
  const cache = new ChunkCache({
    memBytes: 1 << 24, diskBytes: 0, fetchTimeoutMs: 10_000, log: () => {}, notices: new LogThrottle(() => {}),
    fetch: async (h) => {
      fetched.push(pathOf.get(h)!);
      // Lets the other prefetch worker run between fetches, as a canister's latency does.
      if (yieldBetween) await new Promise((resolve) => setImmediate(resolve));
      return r.chunks.get(h)!;
    },
  });
  return { cache, fetched };
}

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
    const snap = { manifest: { chunk_size: 1024, files: [{ path: 'a', chunks: [...byHash.keys()] }] } } as unknown as Snapshot;
    const w = await warm(cache, snap);
    assert.ok(w.chunks >= 4 && w.chunks < 10, `${w.chunks} chunks`);
    assert.equal(w.bytes, w.chunks * 1024);
  });

  it('loads the kernels and initrds the machines boot first, the default group\'s first, kernel before initrd', async () => {
    const profile = (arch: string): string => JSON.stringify({ kernel: `${arch}/linux`, initrd: [`${arch}/initrd.gz`], args: '' });
    // Manifest order puts the boot files last, and arm64's before amd64's.
    const r = memoryRelease(3, {
      'README': 'not booted', 'arm64/initrd.gz': 'arm64 initrd', 'arm64/linux': 'arm64 kernel', 'amd64/initrd.gz': 'amd64 initrd', 'amd64/linux': 'amd64 kernel',
      'icboot/profiles/amd64.json': profile('amd64'), 'icboot/profiles/arm64.json': profile('arm64'),
      'icboot/groups/arm64.json': JSON.stringify({ profile: 'arm64', selector: { arch: 'efi-arm64' } }),
      'icboot/groups/default.json': JSON.stringify({ profile: 'amd64' }),
    });
    const { cache, fetched } = recordingCache(r, true);
    const w = await warm(cache, r.snapshot, new ReleaseMachines(r, (h) => cache.get(h), () => {}));
    assert.equal(w.chunks, r.chunks.size);
    // icboot/ is read first, to learn what boots.
    assert.deepEqual(fetched.filter((p) => !p.startsWith('icboot/')), ['amd64/linux', 'amd64/initrd.gz', 'arm64/linux', 'arm64/initrd.gz', 'README']);
  });

  it('keeps manifest order in a release without machine profiles', async () => {
    const r = memoryRelease(4, { 'pxelinux.0': 'loader', 'linux': 'kernel', 'initrd.gz': 'initrd' });
    const { cache, fetched } = recordingCache(r);
    await warm(cache, r.snapshot, new ReleaseMachines(r, (h) => cache.get(h), () => {}));
    assert.deepEqual(fetched, ['pxelinux.0', 'linux', 'initrd.gz']);
  });
});

describe('bootPaths', () => {
  const p = (kernel: string, initrds: string[]) => ({ id: kernel, name: '', kernel, initrds, args: '', templates: {} });
  const g = (profile: string, selector: Record<string, string> = {}) => ({ id: profile, name: '', profile, selector, metadata: {} });

  it('puts the default group\'s profile first, each path once, and leaves out profiles no group names', () => {
    const m: Machines = {
      profiles: new Map([['web', p('k1', ['i1'])], ['db', p('k2', ['i1', 'i2'])], ['unused', p('k3', ['i3'])]]),
      groups: [g('web', { hostname: 'web' }), g('db'), g('web', { hostname: 'web2' })],
    };
    assert.deepEqual(bootPaths(m), ['k2', 'i1', 'i2', 'k1']);
  });
});

describe('warmOrder', () => {
  it('puts the chunks of the paths given first, each chunk once, the rest in manifest order', () => {
    const manifest = {
      files: [{ path: 'a', chunks: ['c1', 'c2'] }, { path: 'b', chunks: ['c3', 'c1'] }, { path: 'k', chunks: ['c4', 'c3'] }],
    } as unknown as Snapshot['manifest'];
    assert.deepEqual(warmOrder(manifest, ['k', 'missing']), ['c4', 'c3', 'c1', 'c2']);
    assert.deepEqual(warmOrder(manifest, []), ['c1', 'c2', 'c3', 'c4']);
  });
});

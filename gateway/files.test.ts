// Files of a release as the gateway serves them: whole files whose last chunk
// waits for the whole-file hash, every time until that hash has checked out,
// and byte ranges across chunk boundaries.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { IntegrityError } from '../client/errors.ts';
import type { ManifestFile } from '../common/manifest.ts';
import { ChunkCache } from './cache.ts';
import { Files } from './files.ts';
import { LogThrottle } from './log.ts';
import type { Snapshot } from './release.ts';

const CHUNK = 4096;
const hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A release of `files` (path → bytes) cut into CHUNK-byte chunks; `wrongHash` names files whose certified SHA-256 is not their bytes'. */
function release(files: Record<string, Uint8Array>, wrongHash: string[] = []): Files {
  const byHash = new Map<string, Uint8Array>();
  const entries: ManifestFile[] = Object.entries(files).map(([path, bytes]) => {
    const chunks: string[] = [];
    for (let at = 0; at < bytes.length; at += CHUNK) {
      const c = bytes.subarray(at, at + CHUNK);
      byHash.set(hex(c), c);
      chunks.push(hex(c));
    }
    return { path, size: bytes.length, sha256: wrongHash.includes(path) ? hex(new Uint8Array(1)) : hex(bytes), chunks };
  });
  const snapshot: Snapshot = {
    manifest: { version: 1, id: 1, label: 'test', author: 'test', created: '0', chunk_size: CHUNK, files: entries },
    files: new Map(entries.map((f) => [f.path, f])), origin: 'canister', certifiedAt: 0,
  };
  const cache = new ChunkCache({
    memBytes: 1 << 24, diskBytes: 0, fetchTimeoutMs: 10_000, log: () => {}, notices: new LogThrottle(() => {}),
    fetch: async (h) => byHash.get(h)!,
  });
  return new Files({ snapshot }, cache);
}

/** Everything `source` yields, and the error that ended it, if one did. */
async function drain(source: AsyncIterable<Uint8Array>): Promise<{ bytes: Buffer; error: unknown }> {
  const parts: Uint8Array[] = [];
  try {
    for await (const p of source) parts.push(p);
    return { bytes: Buffer.concat(parts), error: null };
  } catch (e) {
    return { bytes: Buffer.concat(parts), error: e };
  }
}

describe('Files', () => {
  const body = randomBytes(3 * CHUNK + 1234);

  it('streams a whole file the same, byte for byte, the first time and after its hash has checked out', async () => {
    const files = release({ a: body });
    for (let i = 0; i < 3; i++) {
      const got = await drain(files.open('a')!.stream());
      assert.equal(got.error, null);
      assert.ok(got.bytes.equals(body), `stream ${i + 1}`);
    }
  });

  it('holds back the last chunk of a file whose chunks do not make its certified SHA-256, on every transfer', async () => {
    const files = release({ a: body }, ['a']);
    for (let i = 0; i < 2; i++) {
      const got = await drain(files.open('a')!.stream());
      assert.ok(got.error instanceof IntegrityError, `stream ${i + 1}: ${String(got.error)}`);
      assert.ok(got.bytes.equals(body.subarray(0, 3 * CHUNK)), `stream ${i + 1}: all but the last chunk`);
    }
  });

  it('serves byte ranges within, across and at the ends of chunks', async () => {
    const files = release({ a: body });
    const f = files.open('a')!;
    const last = body.length - 1;
    for (const [start, end] of [[0, 0], [0, last], [CHUNK - 1, CHUNK], [100, 2 * CHUNK + 5], [CHUNK, 2 * CHUNK - 1], [last, last], [3 * CHUNK, last]]) {
      const got = await drain(f.range(start, end));
      assert.equal(got.error, null);
      assert.ok(got.bytes.equals(body.subarray(start, end + 1)), `bytes ${start}-${end}`);
    }
  });

  it('finds no file outside the release', () => {
    assert.equal(release({ a: body }).open('b'), null);
  });
});

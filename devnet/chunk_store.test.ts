// The wasm chunk store's byte count, kept as chunks come and go, against what is on disk.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ChunkStore } from './chunk_store.ts';

describe('wasm chunk store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'icboot-chunk-store-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('counts each distinct chunk once, agrees with the disk, and empties', () => {
    const store = new ChunkStore(join(dir, 'chunks'));
    assert.equal(store.bytes, 0);
    store.put(new Uint8Array(100));
    store.put(new Uint8Array(100));
    store.put(new Uint8Array(30).fill(1));
    assert.equal(store.bytes, 130);
    assert.equal(new ChunkStore(join(dir, 'chunks')).bytes, 130, 'a store opened afresh reads the same from disk');
    store.clear();
    assert.equal(store.bytes, 0);
    store.put(new Uint8Array(7));
    assert.equal(store.bytes, 7);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chunkAt, chunkCount, chunkLength, chunkRange } from './chunks.ts';

describe('chunk arithmetic', () => {
  it('cuts a file into full chunks and a shorter last one', () => {
    assert.equal(chunkCount(10, 4), 3);
    assert.deepEqual([0, 1, 2].map((i) => chunkLength(10, 4, i)), [4, 4, 2]);
    assert.deepEqual(chunkRange(10, 4, 2), { start: 8, end: 10 });
  });

  it('gives an empty file no chunks and an exact multiple no short one', () => {
    assert.equal(chunkCount(0, 4), 0);
    assert.equal(chunkCount(8, 4), 2);
    assert.equal(chunkLength(8, 4, 1), 4);
  });

  it('finds the chunk that holds an offset', () => {
    assert.deepEqual([0, 3, 4, 9].map((o) => chunkAt(o, 4)), [0, 0, 1, 2]);
  });
});

// How chunks are grouped into put_chunks calls.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_CHUNK_BYTES, MAX_PUT_BYTES } from '../common/limits.ts';
import { PER_CHUNK_OVERHEAD, packPutCalls } from './put_calls.ts';

interface Chunk {
  id: number;
  size: number;
}

const chunks = (sizes: number[]): Chunk[] => sizes.map((size, id) => ({ id, size }));
const callBytes = (call: Chunk[]): number => call.reduce((n, c) => n + c.size + PER_CHUNK_OVERHEAD, 0);
/** The largest chunk that fits a call on its own. */
const WHOLE_CALL = MAX_PUT_BYTES - PER_CHUNK_OVERHEAD;

/** Sizes from 1 to MAX_CHUNK_BYTES, the same every run (a fixed linear congruential sequence). */
function sizes(count: number): number[] {
  let x = 12345;
  return Array.from({ length: count }, () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return 1 + (x % MAX_CHUNK_BYTES);
  });
}

describe('packPutCalls', () => {
  it('makes no call for no chunks', () => {
    assert.deepEqual(packPutCalls([]), []);
  });

  it('puts every chunk in exactly one call, in the order given', () => {
    const input = chunks([...sizes(300), 1, 1, 4096, MAX_CHUNK_BYTES, 7]);
    assert.deepEqual(packPutCalls(input).flat(), input);
  });

  it('keeps every call within the byte limit, and closes a call only when the next chunk would not fit', () => {
    for (const input of [chunks(sizes(300)), chunks(Array(1000).fill(4096)), chunks(Array(10).fill(MAX_CHUNK_BYTES))]) {
      const calls = packPutCalls(input);
      calls.forEach((call, i) => {
        assert.ok(call.length > 0, `call ${i} is empty`);
        assert.ok(callBytes(call) <= MAX_PUT_BYTES, `call ${i} holds ${callBytes(call)} bytes`);
        const next = calls[i + 1]?.[0];
        if (next) assert.ok(callBytes(call) + next.size + PER_CHUNK_OVERHEAD > MAX_PUT_BYTES, `call ${i} had room for the next chunk`);
      });
    }
  });

  it('gives a chunk of exactly the limit a call of its own', () => {
    const calls = packPutCalls(chunks([10, WHOLE_CALL, 10]));
    assert.deepEqual(calls.map((call) => call.map((c) => c.id)), [[0], [1], [2]]);
    assert.equal(callBytes(calls[1]), MAX_PUT_BYTES);
  });

  it('fills a call to exactly the limit, and no further', () => {
    const half = MAX_PUT_BYTES / 2 - PER_CHUNK_OVERHEAD;
    assert.deepEqual(packPutCalls(chunks([half, half])).map((call) => call.length), [2]);
    assert.deepEqual(packPutCalls(chunks([half, half + 1])).map((call) => call.length), [1, 1]);
  });

  it('gives a chunk over the limit a call of its own', () => {
    assert.deepEqual(packPutCalls(chunks([1, MAX_PUT_BYTES, 1])).map((call) => call.map((c) => c.id)), [[0], [1], [2]]);
  });
});

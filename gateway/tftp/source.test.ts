// What a transfer reads from: exact-size blocks out of arbitrary pieces, and
// the netascii translation of a stream whatever its pieces' boundaries.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BlockReader, netascii } from './source.ts';

async function* from(...pieces: string[]): AsyncGenerator<Uint8Array> {
  for (const p of pieces) yield Buffer.from(p, 'latin1');
}

async function all(stream: AsyncIterable<Uint8Array>): Promise<string> {
  const out: Buffer[] = [];
  for await (const b of stream) out.push(Buffer.from(b));
  return Buffer.concat(out).toString('latin1');
}

describe('BlockReader', () => {
  it('hands out blocks of exactly n bytes after the headroom, fewer only at the end', async () => {
    const r = new BlockReader(from('ab', '', 'cdefg', 'h'));
    assert.equal(r.readNow(3), null, 'nothing read yet');
    const first = await r.read(3, 4);
    assert.equal(first.length, 7);
    assert.equal(first.subarray(4).toString(), 'abc');
    assert.equal(r.readNow(3)?.toString(), 'def', 'already buffered');
    assert.equal((await r.read(3)).toString(), 'gh');
    assert.equal((await r.read(3)).length, 0);
  });

  it('stops its source when closed early', async () => {
    let stopped = false;
    const r = new BlockReader((async function* () {
      try {
        for (;;) yield Buffer.from('x');
      } finally {
        stopped = true;
      }
    })());
    await r.read(2);
    await r.close();
    assert.ok(stopped);
  });
});

describe('netascii', () => {
  it('sends LF as CR LF and CR as CR NUL, so CR LF becomes CR NUL CR LF', async () => {
    assert.equal(await all(netascii(from('a\nb\rc\r\nd'))), 'a\r\nb\r\0c\r\0\r\nd');
  });

  it('translates a CR or LF at the edge of a piece like any other', async () => {
    assert.equal(await all(netascii(from('a\r', '\nb\n', '\r', '', 'c'))), 'a\r\0\r\nb\r\n\r\0c');
  });
});

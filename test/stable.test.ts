// Stable memory persistence: transactions, rollback and crash recovery through
// the journal (a crash is simulated by stopping a commit before it applies).
import assert from 'node:assert/strict';
import { readFileSync, truncateSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PAGE, StableMemory } from '../devnet/stable.ts';
import { tempDir } from '../lab/devnet.ts';

function committed(path: string, offset: number, bytes: number[]): StableMemory {
  const m = new StableMemory(path);
  m.begin();
  if (m.sizeBytes < offset + bytes.length) m.grow(Math.ceil((offset + bytes.length - m.sizeBytes) / PAGE));
  m.write(offset, Uint8Array.from(bytes));
  return m;
}

function readBack(path: string, offset: number, n: number): number[] {
  const m = new StableMemory(path);
  const out = new Uint8Array(n);
  m.read(offset, out);
  m.close();
  return [...out];
}

/** Commits, but "crashes" after the journal is written and before it is applied. */
function crashAfterJournal(m: StableMemory): void {
  const crash = new Error('simulated crash');
  (m as unknown as { apply: () => void }).apply = () => {
    throw crash;
  };
  assert.throws(() => m.commit({ 'meta.json': '{"v":2}' }), (e: unknown) => e === crash);
  m.close();
}

describe('stable memory', () => {
  it('keeps committed writes and drops rolled-back ones', () => {
    const path = join(tempDir('stable'), 'stable.bin');
    const m = committed(path, 70_000, [1, 2, 3]);
    m.commit();
    m.begin();
    m.write(70_000, Uint8Array.from([9, 9, 9]));
    m.grow(10);
    m.rollback();
    assert.equal(m.sizePages, 2);
    m.close();
    assert.deepEqual(readBack(path, 70_000, 3), [1, 2, 3]);
    assert.equal(statSync(path).size, 2 * PAGE);
  });

  it('replays a complete journal left by a crash, with its sidecar files', () => {
    const dir = tempDir('stable');
    const path = join(dir, 'stable.bin');
    committed(path, 0, [1]).commit({ 'meta.json': '{"v":1}' });
    crashAfterJournal(committed(path, 0, [2, 2]));
    assert.deepEqual(readBack(path, 0, 2), [2, 2]);
    assert.equal(readFileSync(join(dir, 'meta.json'), 'utf8'), '{"v":2}');
  });

  it('drops a torn journal and keeps the last committed state', () => {
    const dir = tempDir('stable');
    const path = join(dir, 'stable.bin');
    committed(path, 0, [1]).commit({ 'meta.json': '{"v":1}' });
    crashAfterJournal(committed(path, 0, [2, 2]));
    truncateSync(`${path}.journal`, statSync(`${path}.journal`).size - 5);
    assert.deepEqual(readBack(path, 0, 2), [1, 0]);
    assert.equal(readFileSync(join(dir, 'meta.json'), 'utf8'), '{"v":1}');
  });

  it('clears within a transaction and undoes the clear on rollback', () => {
    const path = join(tempDir('stable'), 'stable.bin');
    committed(path, 5, [7]).commit();
    const m = new StableMemory(path);
    m.begin();
    m.clear();
    m.grow(1);
    const out = new Uint8Array(1);
    m.read(5, out);
    assert.equal(out[0], 0, 'a cleared memory reads as zero');
    m.rollback();
    m.read(5, out);
    assert.equal(out[0], 7);
    m.begin();
    m.clear();
    m.commit();
    m.close();
    assert.equal(statSync(path).size, 0);
  });
});

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { writeAtomic } from './write_atomic.ts';

describe('writeAtomic', () => {
  const dir = mkdtempSync(join(tmpdir(), 'icboot-atomic-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces the contents and leaves no temporary file', () => {
    const path = join(dir, 'a');
    writeAtomic(path, 'one');
    writeAtomic(path, 'two');
    assert.equal(readFileSync(path, 'utf8'), 'two');
    assert.ok(!existsSync(`${path}.tmp`));
  });

  it('removes its temporary file when the rename fails', () => {
    // A directory in the way cannot be replaced by a file.
    const path = join(dir, 'taken');
    mkdirSync(join(path, 'inside'), { recursive: true });
    assert.throws(() => writeAtomic(path, 'x'), (e: NodeJS.ErrnoException) => e.code === 'EISDIR' || e.code === 'ENOTEMPTY' || e.code === 'ENOTDIR');
    assert.ok(!existsSync(`${path}.tmp`));
  });
});

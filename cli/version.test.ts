import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { moduleSha256, versionText } from './version.ts';

describe('icboot --version', () => {
  it('no module built yet: null, and the line says deploy builds it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'icboot-version-'));
    try {
      assert.equal(moduleSha256(join(dir, 'icboot.wasm')), null);
      writeFileSync(join(dir, 'icboot.wasm'), 'wasm');
      assert.match(moduleSha256(join(dir, 'icboot.wasm')) ?? '', /^[0-9a-f]{64}$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(versionText({ icboot: '1.0.0', moduleSha256: null, node: 'v20.0.0' }),
      'icboot 1.0.0\ncanister module: not built (icboot deploy builds it)\nnode v20.0.0\n');
  });
});

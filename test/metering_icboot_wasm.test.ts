// The metering rewrite on the real icboot canister module (Azle/QuickJS, about
// a million instructions). Here rather than beside devnet/wasm.ts because the
// module may need an Azle build first, which takes about a minute.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildAzleCanister } from '../canister/build.ts';
import { REPO } from '../lab/devnet.ts';
import { meter } from '../devnet/metering/instrument.ts';
import { compileCanisterModule } from '../devnet/wasm.ts';

describe('metering the icboot canister module', () => {
  let raw: Uint8Array;
  const dir = mkdtempSync(join(tmpdir(), 'icboot-metering-'));

  before(async () => {
    const { wasm } = await buildAzleCanister(REPO, 'icboot');
    raw = new Uint8Array(readFileSync(wasm));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('gives a valid module, the same bytes every time', (t) => {
    const started = performance.now();
    const first = meter(raw);
    t.diagnostic(`${raw.length} B → ${first.bytes.length} B, ${first.instructions} instructions, metered in ${Math.round(performance.now() - started)} ms`);
    assert.ok(WebAssembly.validate(first.bytes));
    assert.deepEqual(meter(raw).bytes, first.bytes);
  });

  it('caches the rewrite, and recomputes a damaged cache entry', () => {
    const fresh = compileCanisterModule(raw, { metering: true, cacheDir: dir });
    const [name] = readdirSync(dir);
    const entry = readFileSync(join(dir, name));
    const metered = meter(raw).bytes;
    assert.deepEqual(new Uint8Array(entry.subarray(entry.length - metered.length)), metered, 'the entry holds the rewrite');

    const hit = compileCanisterModule(raw, { metering: true, cacheDir: dir });
    assert.equal(hit.compileInstructions, fresh.compileInstructions);
    assert.deepEqual(readFileSync(join(dir, name)), entry);

    const damaged = Buffer.from(entry);
    damaged[damaged.length >> 1] ^= 0x55;
    writeFileSync(join(dir, name), damaged);
    const again = compileCanisterModule(raw, { metering: true, cacheDir: dir });
    assert.equal(again.compileInstructions, fresh.compileInstructions);
    assert.deepEqual(readFileSync(join(dir, name)), entry, 'the damaged entry was replaced');
  });
});

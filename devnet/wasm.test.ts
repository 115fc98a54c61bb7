import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { wat } from './metering/testdata/wat.ts';
import { compileCanisterModule, COUNTER_EXPORT, GLOBAL_EXPORT_PREFIX, START_EXPORT, TABLE_EXPORT, WasmError } from './wasm.ts';

const exportNames = (m: WebAssembly.Module): string[] => WebAssembly.Module.exports(m).map((e) => e.name).sort();

/** Appends a custom section named `name` with `payload` bytes of content. */
function withCustomSection(raw: Uint8Array, name: string, payload: number): Uint8Array {
  const body = [name.length, ...new TextEncoder().encode(name), ...new Uint8Array(payload)];
  return new Uint8Array([...raw, 0, body.length, ...body]);
}

const cacheDirs: string[] = [];
function cacheDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'icboot-wasm-cache-'));
  cacheDirs.push(d);
  return d;
}
after(() => {
  for (const d of cacheDirs) rmSync(d, { recursive: true, force: true });
});

describe('compileCanisterModule', () => {
  const source = `(module
    (global $a (mut i32) (i32.const 0)) (global $b i32 (i32.const 1)) (global $c (mut i64) (i64.const 0))
    (table 1 funcref)
    (func $init (global.set $a (i32.const 5))) (start $init)
    (func (export "canister_query q")))`;

  it('meters, moves the start function, and exports the table and mutable globals but not the counter', () => {
    const raw = withCustomSection(wat(source), 'icp:public x', 10);
    const c = compileCanisterModule(gzipSync(raw), { metering: true });
    assert.equal(c.metered, true);
    assert.equal(c.wasmBytes, raw.length);
    assert.equal(c.customSectionBytes, 1 + 'icp:public x'.length + 10);
    assert.deepEqual(exportNames(c.module), [
      COUNTER_EXPORT, START_EXPORT, 'canister_query q', TABLE_EXPORT, `${GLOBAL_EXPORT_PREFIX}0`, `${GLOBAL_EXPORT_PREFIX}2`,
    ].sort());
  });

  it('charges 6,000 per instruction of the metered module to compile', () => {
    // (func): its `end` + the entry point's 4 + check 6 = 11; the decrement function has 20.
    const c = compileCanisterModule(wat('(module (func))'), { metering: true });
    assert.equal(c.compileInstructions, 6000n * 31n);
  });

  it('leaves the module unmetered when asked', () => {
    const c = compileCanisterModule(wat(source), { metering: false });
    assert.deepEqual([c.metered, c.compileInstructions], [false, 0n]);
    assert.deepEqual(exportNames(c.module), ['canister_query q', TABLE_EXPORT, `${GLOBAL_EXPORT_PREFIX}0`, `${GLOBAL_EXPORT_PREFIX}2`].sort());
  });

  it('refuses SIMD only when metering, and bad gzip always', () => {
    const simd = wat('(module (func (export "f") (drop (v128.const i32x4 0 0 0 0))))');
    assert.ok(compileCanisterModule(simd, { metering: false }).module);
    assert.throws(() => compileCanisterModule(simd, { metering: true }), WasmError);
    const badGzip = new Uint8Array([0x1f, 0x8b, 0x08, 0, 1, 2, 3, 4, 5, 6]);
    assert.throws(() => compileCanisterModule(badGzip, { metering: false }), WasmError);
  });

  it('throws nothing but WasmError for random mutations of a valid module', () => {
    const raw = wat(`(module (memory 1) (global $g (mut i64) (i64.const 0)) (table 2 funcref) (elem (i32.const 0) $f)
      (func $f (export "f") (param i32) (result i32)
        (block (loop (br_if 1 (i32.eqz (local.get 0))) (local.set 0 (i32.sub (local.get 0) (i32.const 1))) (br 0)))
        (memory.fill (i32.const 0) (i32.const 1) (local.get 0))
        (if (result i32) (local.get 0) (then (call_indirect (param i32) (result i32) (i32.const 0) (i32.const 0))) (else (i32.const 7)))))`);
    // A fixed-seed generator, so a failure reproduces.
    let seed = 14;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    let compiled = 0;
    for (let i = 0; i < 3000; i++) {
      const m = raw.slice();
      for (let k = 1 + rand(3); k > 0; k--) m[8 + rand(m.length - 8)] = rand(256);
      try {
        compileCanisterModule(m, { metering: true });
        compiled++;
      } catch (e) {
        assert.ok(e instanceof WasmError, `mutation ${i}: ${e}`);
      }
    }
    assert.ok(compiled > 0, 'some mutations still compile');
  });
});

describe('compileCanisterModule: cache', () => {
  const x = wat('(module (func (export "x")))');
  const y = wat('(module (func (export "y")))');
  const onlyFile = (dir: string): string => {
    const files = readdirSync(dir);
    assert.equal(files.length, 1);
    return join(dir, files[0]);
  };

  it('uses a cached rewrite, and recomputes a damaged one', () => {
    const dir = cacheDir();
    assert.ok(exportNames(compileCanisterModule(x, { metering: true, cacheDir: dir }).module).includes('x'));
    const xFile = onlyFile(dir);
    const xEntry = readFileSync(xFile);
    // Put y's rewrite under x's name: a hit must skip the rewrite and compile what is cached.
    const other = cacheDir();
    compileCanisterModule(y, { metering: true, cacheDir: other });
    writeFileSync(xFile, readFileSync(onlyFile(other)));
    assert.ok(exportNames(compileCanisterModule(x, { metering: true, cacheDir: dir }).module).includes('y'));
    // A damaged entry is recomputed and replaced.
    const damaged = Buffer.from(xEntry);
    damaged[damaged.length - 3] ^= 0xff;
    writeFileSync(xFile, damaged);
    assert.ok(exportNames(compileCanisterModule(x, { metering: true, cacheDir: dir }).module).includes('x'));
    assert.deepEqual(readFileSync(xFile), xEntry);
    // So is a truncated one.
    writeFileSync(xFile, xEntry.subarray(0, 20));
    assert.ok(exportNames(compileCanisterModule(x, { metering: true, cacheDir: dir }).module).includes('x'));
    assert.deepEqual(readFileSync(xFile), xEntry);
  });
});

// withMetadata appends a section every reader of the module sees: the engine's
// own custom-section API and the devnet's metadata rules, and the module still
// compiles and keeps its exports.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readMetadata } from '../devnet/wasm_metadata.ts';
import { withMetadata } from './metadata.ts';

// (module (func (export "f") (result i32) i32.const 42))
const MODULE = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f,
  0x03, 0x02, 0x01, 0x00,
  0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00,
  0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x2a, 0x0b,
]);
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('withMetadata', () => {
  it('adds a section the engine lists under its icp: name, and the module runs as before', () => {
    const candid = bytes('service : { count : () -> (nat64) query }');
    const wasm = withMetadata(MODULE, 'candid:service', candid);
    const module = new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>);
    const [section, ...more] = WebAssembly.Module.customSections(module, 'icp:public candid:service');
    assert.equal(more.length, 0);
    assert.deepEqual(new Uint8Array(section), candid);
    const { f } = new WebAssembly.Instance(module).exports as { f: () => number };
    assert.equal(f(), 42);
  });

  it('names private sections icp:private', () => {
    const wasm = withMetadata(MODULE, 'secret', Uint8Array.of(1, 2), 'private');
    const module = new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>);
    assert.equal(WebAssembly.Module.customSections(module, 'icp:public secret').length, 0);
    assert.deepEqual(new Uint8Array(WebAssembly.Module.customSections(module, 'icp:private secret')[0]), Uint8Array.of(1, 2));
  });

  it('parses back through the devnet metadata rules, sizes past one LEB128 byte included', () => {
    const big = new Uint8Array(70_000).map((_, i) => i % 251);
    const name = 'n'.repeat(200);
    const wasm = withMetadata(withMetadata(MODULE, name, big), 'candid:service', bytes('service : {}'));
    const m = readMetadata(wasm);
    assert.deepEqual(m.get(name), { visibility: 'public', content: big });
    assert.deepEqual(m.get('candid:service'), { visibility: 'public', content: bytes('service : {}') });
    assert.equal(WebAssembly.Module.customSections(new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>), `icp:public ${name}`)[0].byteLength, big.length);
  });
});

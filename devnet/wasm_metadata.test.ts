// Module metadata as the replica reads it at install: which custom sections
// count, with what visibility, and which modules it refuses.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lebEncode } from '@dfinity/candid';
import { withMetadata } from '../canister/metadata.ts';
import { WasmError } from './metering/binary.ts';
import { MAX_METADATA_BYTES, MAX_METADATA_SECTIONS, readMetadata } from './wasm_metadata.ts';

/** The smallest module: magic and version, no sections. */
const EMPTY = Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0);
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

/** `wasm` with a custom section of any name, including names withMetadata would never write. */
function withSection(wasm: Uint8Array, name: string, content: Uint8Array): Uint8Array {
  const n = bytes(name);
  const payload = Buffer.concat([lebEncode(n.length), n, content]);
  return new Uint8Array(Buffer.concat([wasm, Uint8Array.of(0), lebEncode(payload.length), payload]));
}

const refused = (wasm: Uint8Array): void => assert.throws(() => readMetadata(wasm), WasmError);

describe('module metadata', () => {
  it('reads icp:public and icp:private sections by name, with their payload bytes', () => {
    let wasm = withMetadata(EMPTY, 'candid:service', bytes('service : {}'));
    wasm = withMetadata(wasm, 'secret', Uint8Array.of(0, 255, 7), 'private');
    const m = readMetadata(wasm);
    assert.deepEqual([...m.keys()], ['candid:service', 'secret']);
    assert.deepEqual(m.get('candid:service'), { visibility: 'public', content: bytes('service : {}') });
    assert.deepEqual(m.get('secret'), { visibility: 'private', content: Uint8Array.of(0, 255, 7) });
  });

  it('takes everything after the single space as the name, the empty name included', () => {
    const m = readMetadata(withSection(withSection(EMPTY, 'icp:public ', bytes('a')), 'icp:private  two words', bytes('b')));
    assert.equal(m.get('')?.visibility, 'public');
    assert.equal(m.get(' two words')?.visibility, 'private');
  });

  it('ignores custom sections outside the icp: namespace', () => {
    const wasm = withSection(withSection(withSection(EMPTY, 'name', bytes('x')), 'icpx public a', bytes('y')), 'ICP:public a', bytes('z'));
    assert.equal(readMetadata(wasm).size, 0);
  });

  it('refuses an icp: section without a known scope', () => {
    refused(withSection(EMPTY, 'icp:secret a', bytes('x')));
    refused(withSection(EMPTY, 'icp:', bytes('x')));
  });

  it('refuses a scope without the space and name', () => {
    refused(withSection(EMPTY, 'icp:public', bytes('x')));
    refused(withSection(EMPTY, 'icp:private', bytes('x')));
    refused(withSection(EMPTY, 'icp:publicname', bytes('x')));
  });

  it('refuses a name given twice, across visibilities too', () => {
    refused(withMetadata(withMetadata(EMPTY, 'a', bytes('1')), 'a', bytes('2')));
    refused(withMetadata(withMetadata(EMPTY, 'a', bytes('1')), 'a', bytes('2'), 'private'));
  });

  it(`allows ${MAX_METADATA_SECTIONS} sections and refuses one more`, () => {
    let wasm: Uint8Array = EMPTY;
    for (let i = 0; i < MAX_METADATA_SECTIONS; i++) wasm = withMetadata(wasm, `s${i}`, bytes('x'));
    assert.equal(readMetadata(wasm).size, MAX_METADATA_SECTIONS);
    refused(withMetadata(wasm, 'one-more', bytes('x')));
  });

  it('allows 1 MiB of payloads and names together, and refuses a byte more', () => {
    // The bound counts each payload plus its name (without the icp: scope).
    const name = 'big';
    const exact = withMetadata(EMPTY, name, new Uint8Array(MAX_METADATA_BYTES - name.length));
    assert.equal(readMetadata(exact).get(name)?.content.length, MAX_METADATA_BYTES - name.length);
    refused(withMetadata(EMPTY, name, new Uint8Array(MAX_METADATA_BYTES - name.length + 1)));
    refused(withMetadata(withMetadata(EMPTY, 'a', new Uint8Array(MAX_METADATA_BYTES / 2)), 'b', new Uint8Array(MAX_METADATA_BYTES / 2)));
  });

  it('refuses a section name that is not UTF-8, and reads a leading BOM as a character', () => {
    const bad = Buffer.concat([bytes('icp:public '), Uint8Array.of(0xff)]);
    const payload = Buffer.concat([lebEncode(bad.length), bad, bytes('x')]);
    refused(new Uint8Array(Buffer.concat([EMPTY, Uint8Array.of(0), lebEncode(payload.length), payload])));
    // A name starting with a BOM is not in the icp: namespace, so it is no metadata.
    assert.equal(readMetadata(withSection(EMPTY, '\uFEFFicp:public a', bytes('x'))).size, 0);
  });

  it('reads a restored module leniently: sections a replica refuses are skipped, the others kept', () => {
    let wasm = withSection(EMPTY, 'icp:public', bytes('bare'));
    wasm = withMetadata(wasm, 'a', bytes('1'));
    wasm = withMetadata(wasm, 'a', bytes('2'), 'private');
    for (let i = 0; i < MAX_METADATA_SECTIONS; i++) wasm = withMetadata(wasm, `s${i}`, bytes('x'));
    wasm = withMetadata(wasm, 'big', new Uint8Array(MAX_METADATA_BYTES));
    refused(wasm);
    const m = readMetadata(wasm, false);
    assert.equal(m.size, MAX_METADATA_SECTIONS);
    assert.deepEqual(m.get('a'), { visibility: 'public', content: bytes('1') });
    assert.equal(m.has('big'), false);
    assert.equal(m.has(`s${MAX_METADATA_SECTIONS - 2}`), true);
    assert.equal(m.has(`s${MAX_METADATA_SECTIONS - 1}`), false);
  });
});

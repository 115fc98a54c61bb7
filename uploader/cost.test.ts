// The upload estimate against numbers worked out by hand, with round
// instruction costs so each fee can be followed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IDL } from '@dfinity/candid';
import type { CanisterCosts } from '../common/canister_costs.ts';
import { icbootMethods, type NewRelease } from '../common/icboot_idl.ts';
import { createReleaseArgBytes, envelopeBytes, estimateUploadCost, manifestBytes, putChunksArgBytes } from './cost.ts';

const MiB = 1024 * 1024;
const costs: CanisterCosts = {
  put_chunks: { base: 1_000n, perChunk: 100n, perByte: 2n },
  create_release: { base: 5_000n, perFile: 20n, perPathByte: 4n, perChunk: 10n },
  publish: { base: 7_000n },
};
const hash = (b: number): Uint8Array => new Uint8Array(32).fill(b);
const release: NewRelease = {
  label: 'x', chunk_size: MiB, files: [{ path: 'a', size: BigInt(2 * MiB + 100), sha256: hash(0), chunks: [hash(1), hash(2), hash(3)] }],
};

describe('upload cost', () => {
  it('sizes put_chunks arguments as Candid encodes them', () => {
    // 26 bytes of header, types and count; then per chunk 1 + 32 (hash) and the data with its LEB128 length.
    assert.equal(putChunksArgBytes([]), 26);
    assert.equal(putChunksArgBytes([MiB]), 26 + 33 + 3 + MiB);
    assert.equal(putChunksArgBytes([MiB, 100]), 26 + 33 + 3 + MiB + 33 + 1 + 100);
    const encoded = IDL.encode(icbootMethods.put_chunks.argTypes, [[{ hash: hash(0), data: new Uint8Array(200_000) }, { hash: hash(1), data: new Uint8Array(127) }]]);
    assert.equal(putChunksArgBytes([200_000, 127]), encoded.length);
  });

  it('sizes create_release and the manifest it writes', () => {
    // 64 bytes of header and types with no files, the label, 44 per file
    // ("a" with its length, size 8, sha256 33, chunk count 1), 33 per chunk.
    assert.equal(createReleaseArgBytes(release), 64 + 1 + 44 + 3 * 33);
    const json = `{"version":1,"id":9007199254740991,"label":"x","author":"${'x'.repeat(63)}","created":"${'1'.repeat(19)}","chunk_size":1048576,`
      + `"files":[{"path":"a","size":2097252,"sha256":"${'00'.repeat(32)}","chunks":["${'01'.repeat(32)}","${'02'.repeat(32)}","${'03'.repeat(32)}"]}]}`;
    assert.equal(json.length, 501);
    assert.equal(manifestBytes(release), 501);
  });

  it('adds the signed envelope to each call', () => {
    assert.equal(envelopeBytes('publish', 15), 298n + 7n + 15n);
  });

  it('prices every update call of an upload on 13 nodes', () => {
    const c = estimateUploadCost({ missing: [MiB, MiB, 100], release, publish: true }, 13, costs);
    // Calls: put_chunks([]) (access check), put_chunks([1 MiB]) and put_chunks([1 MiB, 100 B]) (two
    // do not fit 1,950,000 bytes), create_release, publish. Envelope = 298 + method name + argument.
    //   put_chunks      334         → 1,200,000 + 2,000 ×       334 =     1,868,000
    //   put_chunks      1,048,946   →                              2,099,092,000
    //   put_chunks      1,049,080   →                              2,099,360,000
    //   create_release  298+14+208  → 1,200,000 + 2,000 ×       520 =     2,240,000
    //   publish         298+7+15    → 1,200,000 + 2,000 ×       320 =     1,840,000
    assert.equal(c.ingress, 4_204_400_000n);
    // 5 M per call plus instructions: 1,000; 1,000 + 100 + 2 × 1,048,576; 1,000 + 2 × 100 + 2 × 1,048,676;
    // 5,000 + 20 × 1 file + 4 × 1 path byte + 10 × 3 chunks; 7,000.
    assert.equal(c.execution, 5_001_000n + 7_098_252n + 7_098_552n + 5_005_054n + 5_007_000n);
    assert.equal(c.total, c.ingress + c.execution);
    assert.equal(c.storedBytes, BigInt(2 * MiB + 100 + 501));
    // 2,097,753 × 127,000 × 31,536,000 / 2^30, rounded down.
    assert.equal(c.storagePerYear, 7_824_647_988n);
  });

  it('leaves out publish when the release is not published', () => {
    const published = estimateUploadCost({ missing: [100], release, publish: true }, 13, costs);
    const created = estimateUploadCost({ missing: [100], release, publish: false }, 13, costs);
    assert.equal(published.ingress - created.ingress, 1_840_000n);
    assert.equal(published.execution - created.execution, 5_007_000n);
  });

  it('scales each call\'s fees to 34 nodes', () => {
    const empty: NewRelease = { label: '', chunk_size: MiB, files: [] };
    assert.equal(manifestBytes(empty), 185);
    const c = estimateUploadCost({ missing: [], release: empty, publish: false }, 34, costs);
    // put_chunks([]): (1,200,000 + 2,000 × 334) × 34 / 13 = 4,885,538; create_release (64-byte argument,
    // envelope 376): (1,200,000 + 2,000 × 376) × 34 / 13 = 5,105,230.
    assert.equal(c.ingress, 4_885_538n + 5_105_230n);
    // (5,000,000 + 1,000) × 34 / 13 = 13,079,538; (5,000,000 + 5,000) × 34 / 13 = 13,090,000.
    assert.equal(c.execution, 13_079_538n + 13_090_000n);
    // 185 × 127,000 × 31,536,000 / 2^30 = 690,052; × 34 / 13 = 1,804,751.
    assert.equal(c.storagePerYear, 1_804_751n);
  });
});

// The icboot interface is defined once, in common/icboot_idl.ts; this checks what
// is derived from it or written beside it: canister/icboot.did against what azle
// generates from the canister (method names, Candid types, query or update), and
// the client's TypeScript types against the Candid types.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { buildAzleCanister } from './build.ts';
import { REPO } from '../lab/devnet.ts';
import { icbootMethods, type IcbootService } from '../common/icboot_idl.ts';

/** One call of each method in the TypeScript types: arguments and reply (undefined for none). */
type Samples = {
  [K in keyof IcbootService]: { args: Parameters<IcbootService[K]>; reply: Awaited<ReturnType<IcbootService[K]>> };
};

const hash = new Uint8Array(32).fill(7);
const bytes = Uint8Array.of(1, 2, 3);
const principal = Principal.fromText('aaaaa-aa');
const samples: Samples = {
  put_chunks: { args: [[{ hash, data: bytes }]], reply: 1 },
  missing_chunks: { args: [[hash]], reply: [hash] },
  get_chunk: { args: [hash], reply: [bytes] },
  create_release: {
    args: [{ label: 'l', chunk_size: 1024, files: [{ path: 'a', size: 3n, sha256: hash, chunks: [hash] }] }],
    reply: 1n,
  },
  publish: { args: [1n], reply: undefined },
  delete_release: { args: [1n], reply: undefined },
  gc: { args: [10], reply: { deleted: 1, freed_bytes: 3n, remaining: 2n } },
  index_certified: { args: [], reply: { index: bytes, certificate: [bytes] } },
  manifest: { args: [1n], reply: [bytes] },
  authorize: { args: [principal], reply: undefined },
  deauthorize: { args: [principal], reply: undefined },
  authorized: { args: [], reply: [principal] },
  status: {
    args: [],
    reply: {
      releases: 1, current: [1n], chunks: 1n, chunk_bytes: 3n, logical_bytes: 3n, garbage_chunks: 2n, authorized: 1,
      cycles: 10n,
    },
  },
};

/** Encodes and decodes `values` as `types`: a value the TypeScript type allows must come back the same. */
function roundTrip(types: IDL.Type[], values: unknown[]): unknown[] {
  return IDL.decode(types, IDL.encode(types, values));
}

describe('icboot interface', () => {
  it('commits an icboot.did that matches the built wasm', async () => {
    const { candid } = await buildAzleCanister(REPO, 'icboot');
    assert.equal(readFileSync(join(REPO, 'canister', 'icboot.did'), 'utf8'), readFileSync(candid, 'utf8'));
  });

  for (const [name, func] of Object.entries(icbootMethods)) {
    it(`gives ${name} the same arguments and reply in TypeScript as in Candid`, () => {
      const { args, reply } = samples[name as keyof IcbootService];
      assert.deepEqual(roundTrip(func.argTypes, args), args);
      const replies = reply === undefined ? [] : [reply];
      assert.deepEqual(roundTrip(func.retTypes, replies), replies);
    });
  }
});

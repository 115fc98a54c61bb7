import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { CMC_ID, cmcIdl, cyclesMintingCanister } from './cmc.ts';
import { RejectError } from './errors.ts';

const subnet = Principal.selfAuthenticating(new Uint8Array(32).fill(9));
const methods = new Map(cmcIdl({ IDL })._fields);
const empty = new Uint8Array(IDL.encode([], []));

describe('cycles minting canister', () => {
  const cmc = cyclesMintingCanister(subnet);
  const ask = (method: string): unknown => IDL.decode(methods.get(method)!.retTypes, cmc.query(Principal.anonymous(), method, empty, 0n))[0];

  it('lives at the CMC id and names the devnet subnet as the default for new canisters', () => {
    assert.equal(cmc.id.toText(), CMC_ID.toText());
    assert.deepEqual((ask('get_default_subnets') as Principal[]).map((p) => p.toText()), [subnet.toText()]);
    assert.deepEqual(ask('get_subnet_types_to_subnets'), { data: [] });
  });

  it('rejects methods it does not have', () => {
    assert.throws(() => cmc.update(Principal.anonymous(), 'notify_top_up', empty, 0n), (e: unknown) => e instanceof RejectError && e.errorCode === 'IC0536');
  });
});

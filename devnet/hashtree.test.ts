import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lookup_path, reconstruct, type HashTree as AgentHashTree } from '@dfinity/agent';
import { buildTree, compareBytes, digest, node } from './hashtree.ts';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const asAgent = (t: unknown): AgentHashTree => t as AgentHashTree;

describe('hash tree', () => {
  const state = node(
    ['time', Uint8Array.of(1)],
    ['canister', node([Uint8Array.of(0x02), node(['certified_data', utf8('two')])], [Uint8Array.of(0x01), node(['certified_data', utf8('one')])])],
    ['a', utf8('first')],
  );

  it('hashes as the agent reconstructs it', async () => {
    const tree = buildTree(state);
    assert.deepEqual(digest(tree), await reconstruct(asAgent(tree)));
  });

  it('finds every value by its path, whatever order the labels were given in', () => {
    const tree = asAgent(buildTree(state));
    assert.deepEqual(lookup_path(['a'], tree), { status: 'Found', value: utf8('first') });
    assert.deepEqual(lookup_path(['time'], tree), { status: 'Found', value: Uint8Array.of(1) });
    assert.deepEqual(lookup_path(['canister', Uint8Array.of(0x01), 'certified_data'], tree), { status: 'Found', value: utf8('one') });
    assert.deepEqual(lookup_path(['canister', Uint8Array.of(0x02), 'certified_data'], tree), { status: 'Found', value: utf8('two') });
    assert.equal(lookup_path(['canister', Uint8Array.of(0x03), 'certified_data'], tree).status, 'Absent');
  });

  it('builds the same tree from the same labels in any order', () => {
    const reversed = node(['a', utf8('first')], ['canister', node()], ['time', Uint8Array.of(1)]);
    const forward = node(['time', Uint8Array.of(1)], ['canister', node()], ['a', utf8('first')]);
    assert.deepEqual(digest(buildTree(reversed)), digest(buildTree(forward)));
  });

  it('orders labels bytewise, shorter prefix first', () => {
    assert.ok(compareBytes(Uint8Array.of(1), Uint8Array.of(1, 0)) < 0);
    assert.ok(compareBytes(Uint8Array.of(2), Uint8Array.of(1, 0xff)) > 0);
    assert.equal(compareBytes(Uint8Array.of(7, 7), Uint8Array.of(7, 7)), 0);
  });
});

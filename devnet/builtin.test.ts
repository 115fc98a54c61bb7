import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { AttachedCycles } from './builtin.ts';
import { CandidMethods } from './candid_methods.ts';

const id = Principal.fromText('um5iw-rqaaa-aaaaq-qaaba-cai');
const caller = Principal.fromText('bkyz2-fmaaa-aaaaa-qaaaq-cai');

describe('attached cycles', () => {
  it('lets the callee accept up to what is attached, the rest staying available for the refund', () => {
    const c = new AttachedCycles(1_000n);
    assert.equal(c.accept(300n), 300n);
    assert.equal(c.available, 700n);
    assert.equal(c.accept(5_000n), 700n, 'no more than is left');
    assert.equal(c.accept(1n), 0n);
    assert.equal(c.available, 0n);
    assert.equal(c.attached, 1_000n);
  });

  it('reach a builtin method with its update call, and none with a query', () => {
    // take(n) accepts n of the attached cycles and answers what it got and what was left.
    const service: IDL.InterfaceFactory = ({ IDL: I }) => I.Service({
      take: I.Func([I.Nat], [I.Nat, I.Nat], []),
      peek: I.Func([], [I.Nat], ['query']),
    });
    const b = new CandidMethods(id, service, {
      take: (_c, [n], _t, cycles) => [cycles.accept(n as bigint), cycles.available],
      peek: (_c, _a, _t, cycles) => [cycles.attached],
    });
    const cycles = new AttachedCycles(10_000n);
    const reply = b.update(caller, 'take', new Uint8Array(IDL.encode([IDL.Nat], [4_000n])), 0n, cycles);
    assert.deepEqual(IDL.decode([IDL.Nat, IDL.Nat], reply), [4_000n, 6_000n]);
    assert.equal(cycles.available, 6_000n, 'what the replica refunds');
    assert.deepEqual(IDL.decode([IDL.Nat], b.query(caller, 'peek', new Uint8Array(IDL.encode([], [])), 0n)), [0n]);
    assert.deepEqual(IDL.decode([IDL.Nat, IDL.Nat], b.update(caller, 'take', new Uint8Array(IDL.encode([IDL.Nat], [1n])), 0n)), [0n, 0n], 'ingress brings none');
  });
});

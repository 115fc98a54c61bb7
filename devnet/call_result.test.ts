import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReplicaRejectCode } from '@dfinity/agent';
import { Principal } from '@dfinity/principal';
import { answerOf, noResponse, rejected, trapped } from './call_result.ts';
import { RejectError } from './errors.ts';

const id = Principal.fromText('bkyz2-fmaaa-aaaaa-qaaaq-cai');
const effects = { calls: [], accepted: false, cyclesAccepted: 0n, cyclesBurned: 0n };

describe('call results', () => {
  it('uses the reject codes of the IC interface spec on the wire', () => {
    assert.deepEqual(
      [ReplicaRejectCode.SysFatal, ReplicaRejectCode.SysTransient, ReplicaRejectCode.DestinationInvalid, ReplicaRejectCode.CanisterReject, ReplicaRejectCode.CanisterError],
      [1, 2, 3, 4, 5],
    );
  });

  it('keeps the codes of a RejectError', () => {
    const r = rejected(new RejectError(ReplicaRejectCode.DestinationInvalid, 'IC0301', 'Canister x not found'));
    assert.deepEqual(r, { status: 'rejected', code: ReplicaRejectCode.DestinationInvalid, errorCode: 'IC0301', message: 'Canister x not found' });
  });

  it('reports any other error as a canister error', () => {
    const r = rejected(new RangeError('out of bounds'));
    assert.deepEqual(r, { status: 'rejected', code: ReplicaRejectCode.CanisterError, errorCode: 'IC0502', message: 'out of bounds' });
  });

  it('tells an explicit trap from other traps, keeping the trap code', () => {
    const explicit = trapped(id, { ok: false, code: 'IC0503', message: 'boom', instructions: 0n });
    assert.deepEqual(explicit, {
      status: 'rejected', code: ReplicaRejectCode.CanisterError, errorCode: 'IC0503',
      message: 'Error from Canister bkyz2-fmaaa-aaaaa-qaaaq-cai: Canister called `ic0.trap` with message: boom',
    });
    const other = trapped(id, { ok: false, code: 'IC0504', message: 'bad call', instructions: 0n });
    assert.equal(other.status === 'rejected' && other.errorCode, 'IC0504');
    assert.equal(other.status === 'rejected' && other.message, 'Error from Canister bkyz2-fmaaa-aaaaa-qaaaq-cai: Canister trapped: bad call');
  });

  it('reports running out of instructions in the replica\'s words, and running out of cycles as transient', () => {
    const limit = trapped(id, { ok: false, code: 'IC0522', message: 'Canister exceeded the limit of 5 instructions for single message execution..', instructions: 5n });
    assert.equal(limit.status === 'rejected' && limit.message, 'Error from Canister bkyz2-fmaaa-aaaaa-qaaaq-cai: Canister exceeded the limit of 5 instructions for single message execution..');
    const cycles = trapped(id, { ok: false, code: 'IC0207', message: 'Canister x is out of cycles', instructions: 0n });
    assert.deepEqual(cycles, { status: 'rejected', code: ReplicaRejectCode.SysTransient, errorCode: 'IC0207', message: 'Canister x is out of cycles' });
  });

  it("takes the canister's own reply or reject, or none", () => {
    assert.deepEqual(answerOf({ ...effects, reply: Uint8Array.of(1) }), { status: 'replied', reply: Uint8Array.of(1) });
    assert.deepEqual(answerOf({ ...effects, reject: '' }), { status: 'rejected', code: ReplicaRejectCode.CanisterReject, errorCode: 'IC0406', message: '' });
    assert.equal(answerOf(effects), undefined);
    const none = noResponse(id);
    assert.equal(none.status === 'rejected' && none.code, ReplicaRejectCode.CanisterError);
    assert.equal(none.status === 'rejected' && none.errorCode, 'IC0506');
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ReplicaRejectCode } from '@dfinity/agent';
import { Principal } from '@dfinity/principal';
import { RejectError } from './errors.ts';
import { executionOptions } from './canister.ts';
import { CanisterRegistry } from './registry.ts';

const owner = Principal.fromText('2vxsx-fae');
const quiet = (): void => {};

function rejectsWith(f: () => unknown, rejectCode: ReplicaRejectCode, errorCode: string): void {
  assert.throws(f, (e: unknown) => e instanceof RejectError && e.rejectCode === rejectCode && e.errorCode === errorCode);
}

describe('canister registry', () => {
  const dirs: string[] = [];
  const stateDir = (): string => {
    dirs.push(mkdtempSync(join(tmpdir(), 'icboot-registry-')));
    return dirs[dirs.length - 1];
  };
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('hands out ids from where dfx starts, never twice, across a restart', () => {
    const dir = stateDir();
    const first = new CanisterRegistry(dir, quiet, executionOptions());
    const a = first.create(undefined, [owner], 1n, 0n);
    const b = first.create(undefined, [owner], 1n, 0n);
    assert.deepEqual([a.id.toText(), b.id.toText()], ['bkyz2-fmaaa-aaaaa-qaaaq-cai', 'bd3sg-teaaa-aaaaa-qaaba-cai']);
    first.delete(b);
    first.close();

    const second = new CanisterRegistry(dir, quiet, executionOptions());
    second.restore(() => 1n);
    assert.deepEqual([...second.all()].map((c) => c.id.toText()), [a.id.toText()]);
    assert.deepEqual(second.find(a.id)?.controllers, [owner]);
    const c = second.create(undefined, [owner], 1n, 0n);
    assert.notEqual(c.id.toText(), b.id.toText(), 'a deleted canister id is not reused');
    rejectsWith(() => second.create(a.id, [owner], 1n, 0n), ReplicaRejectCode.CanisterError, 'IC0518');
    second.close();
  });

  it('rejects calls to canisters it does not have as an invalid destination', () => {
    const r = new CanisterRegistry(stateDir(), quiet, executionOptions());
    const { id } = r.create(undefined, [owner], 1n, 0n);
    assert.equal(r.get(id).id.toText(), id.toText());
    r.delete(r.get(id));
    rejectsWith(() => r.get(id), ReplicaRejectCode.DestinationInvalid, 'IC0301');
    r.close();
  });

  it('routes only its own canister range', () => {
    const r = new CanisterRegistry(stateDir(), quiet, executionOptions());
    assert.equal(r.hostsRange(Principal.fromText('bkyz2-fmaaa-aaaaa-qaaaq-cai')), true);
    assert.equal(r.hostsRange(Principal.fromText('ryjl3-tyaaa-aaaaa-aaaba-cai')), false);
    assert.equal(r.hostsRange(Principal.managementCanister()), false);
  });

  it('hosts builtins at their fixed ids: in the sorted ranges, never handed out', () => {
    const r = new CanisterRegistry(stateDir(), quiet, executionOptions());
    const ledger = Principal.fromText('um5iw-rqaaa-aaaaq-qaaba-cai');
    const cmc = Principal.fromText('rkp4c-7iaaa-aaaaa-aaaca-cai');
    r.hostBuiltins([ledger, cmc]);
    assert.equal(r.hostsRange(ledger), true);
    assert.equal(r.hostsRange(cmc), true);
    assert.equal(r.hostsRange(Principal.fromText('ryjl3-tyaaa-aaaaa-aaaba-cai')), false, 'only the ids themselves');
    const starts = r.ranges.map(([lo]) => Principal.fromUint8Array(lo).toText());
    assert.deepEqual(starts, [cmc.toText(), ledger.toText(), 'bnz7o-iuaaa-aaaaa-qaaaa-cai']);
    rejectsWith(() => r.create(ledger, [owner], 1n, 0n), ReplicaRejectCode.CanisterError, 'IC0518');
    r.close();
  });
});

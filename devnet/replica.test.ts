// Cycles attached to inter-canister calls, through the replica: they leave the
// caller when the call is made, the callee keeps what it accepts (a wasm
// canister, the cycles ledger's deposit), and the rest comes back to the
// caller with the response, where msg_cycles_refunded128 reports it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ReplicaRejectCode } from '@dfinity/agent';
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import wabt from 'wabt';
import { executionCost, ingressCost } from '../common/cycles.ts';
import { Builtins } from './builtin.ts';
import type { CallResult } from './call_result.ts';
import { executionOptions, type Canister } from './canister.ts';
import { Clock } from './clock.ts';
import { CYCLES_LEDGER_ID, CyclesLedger, LEDGER_FEE } from './cycles_ledger.ts';
import { Account, DepositArgs } from './cycles_ledger_idl.ts';
import { IngressStatus } from './ingress_status.ts';
import { ManagementCanister } from './management.ts';
import { CanisterRegistry } from './registry.ts';
import { Replica } from './replica.ts';

const owner = Principal.anonymous();
const alice = Principal.selfAuthenticating(new Uint8Array(32).fill(7));
const subnet = Principal.selfAuthenticating(new Uint8Array(32).fill(9));
const T = 1_000_000_000_000n;
const quiet = (): void => {};
const options = executionOptions({ metering: false });
/** Unmetered, every message costs the base fee; the ingress envelope is given as 0 bytes. */
const MESSAGE = executionCost(0n, options.subnetSize);
const INGRESS = ingressCost(0n, options.subnetSize);

/** Message time that moves on by a nanosecond a message, so storage (charged by the second) costs nothing here. */
class StillClock extends Clock {
  private t = 1_800_000_000_000_000_000n;
  override now(): bigint {
    return ++this.t;
  }
}

const { parseWat } = await wabt();
/**
 * `send` makes the call its argument describes: amount (u64), callee length,
 * method length, payload length (u32 each), then callee, method and payload.
 * Either callback replies with the refund it was told of (u128) and 1 for a
 * reply or 0 for a reject. `half` accepts half of the cycles it is offered.
 */
const CALLER = ((): Uint8Array => {
  const m = parseWat('caller.wat', `(module
    (import "ic0" "msg_arg_data_size" (func $arg_size (result i32)))
    (import "ic0" "msg_arg_data_copy" (func $arg_copy (param i32 i32 i32)))
    (import "ic0" "call_new" (func $call_new (param i32 i32 i32 i32 i32 i32 i32 i32)))
    (import "ic0" "call_data_append" (func $call_data (param i32 i32)))
    (import "ic0" "call_cycles_add128" (func $add (param i64 i64)))
    (import "ic0" "call_perform" (func $perform (result i32)))
    (import "ic0" "msg_cycles_refunded128" (func $refunded (param i32)))
    (import "ic0" "msg_cycles_available128" (func $available (param i32)))
    (import "ic0" "msg_cycles_accept128" (func $accept (param i64 i64 i32)))
    (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
    (import "ic0" "msg_reply" (func $reply))
    (memory (export "memory") 1)
    (table 2 funcref)
    (elem (i32.const 0) $on_reply $on_reject)
    (func $answer (param $replied i32)
      (call $refunded (i32.const 60000))
      (i32.store8 (i32.const 60016) (local.get $replied))
      (call $append (i32.const 60000) (i32.const 17))
      (call $reply))
    (func $on_reply (param i32) (call $answer (i32.const 1)))
    (func $on_reject (param i32) (call $answer (i32.const 0)))
    (func (export "canister_update send") (local $cl i32) (local $ml i32)
      (call $arg_copy (i32.const 0) (i32.const 0) (call $arg_size))
      (local.set $cl (i32.load (i32.const 8)))
      (local.set $ml (i32.load (i32.const 12)))
      (call $call_new (i32.const 20) (local.get $cl) (i32.add (i32.const 20) (local.get $cl)) (local.get $ml)
        (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 0))
      (call $call_data (i32.add (i32.const 20) (i32.add (local.get $cl) (local.get $ml))) (i32.load (i32.const 16)))
      (call $add (i64.const 0) (i64.load (i32.const 0)))
      (drop (call $perform)))
    (func (export "canister_update half")
      (call $available (i32.const 0))
      (call $accept (i64.const 0) (i64.shr_u (i64.load (i32.const 0)) (i64.const 1)) (i32.const 32))
      (call $reply)))`);
  try {
    return m.toBinary({}).buffer;
  } finally {
    m.destroy();
  }
})();

function sendArg(amount: bigint, callee: Principal, method: string, payload: Uint8Array): Uint8Array {
  const c = callee.toUint8Array();
  const m = new TextEncoder().encode(method);
  const head = new DataView(new ArrayBuffer(20));
  head.setBigUint64(0, amount, true);
  head.setUint32(8, c.length, true);
  head.setUint32(12, m.length, true);
  head.setUint32(16, payload.length, true);
  return new Uint8Array([...new Uint8Array(head.buffer), ...c, ...m, ...payload]);
}

/** The callback's answer: the refund it saw, and whether the call was replied to. */
function answer(r: CallResult): { refund: bigint; replied: boolean } {
  assert.equal(r.status, 'replied', r.status === 'rejected' ? r.message : '');
  const v = new DataView(r.reply.buffer, r.reply.byteOffset, r.reply.length);
  return { refund: v.getBigUint64(0, true) + (v.getBigUint64(8, true) << 64n), replied: r.reply[16] === 1 };
}

describe('cycles on inter-canister calls', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  function setup() {
    const dir = mkdtempSync(join(tmpdir(), 'icboot-replica-'));
    dirs.push(dir);
    const clock = new StillClock();
    const canisters = new CanisterRegistry(dir, quiet, options);
    const management = new ManagementCanister(canisters, quiet);
    const ledger = new CyclesLedger(dir, management, subnet);
    const builtins = new Builtins([ledger]);
    canisters.hostBuiltins([ledger.id]);
    const replica = new Replica(canisters, management, builtins, clock, new IngressStatus(), quiet);
    const canister = (): Canister => {
      const c = canisters.create(undefined, [owner], 100n * T, clock.now());
      c.install('install', CALLER, new Uint8Array(), owner.toUint8Array(), clock.now());
      return c;
    };
    const send = (from: Canister, arg: Uint8Array): Promise<CallResult> => replica.submit(randomBytes(32), from.id, 'send', arg, owner, 0);
    const ledgerBalance = (who: Principal): bigint =>
      IDL.decode([IDL.Nat], ledger.query(who, 'icrc1_balance_of', new Uint8Array(IDL.encode([Account], [{ owner: who, subaccount: [] }])), 0n))[0] as bigint;
    after(() => replica.close().then(() => canisters.close()));
    return { canister, send, ledgerBalance };
  }
  const deposit = (to: Principal): Uint8Array => new Uint8Array(IDL.encode([DepositArgs], [{ to: { owner: to, subaccount: [] }, memo: [] }]));

  it('debits what a canister attaches to a deposit, and the ledger mints it less the fee', async () => {
    const { canister, send, ledgerBalance } = setup();
    const c = canister();
    const before = c.balance();
    assert.deepEqual(answer(await send(c, sendArg(3n * T, CYCLES_LEDGER_ID, 'deposit', deposit(alice)))), { refund: 0n, replied: true });
    assert.equal(ledgerBalance(alice), 3n * T - LEDGER_FEE);
    // The ingress, the update and its reply callback each pay their fee.
    assert.equal(before - c.balance(), 3n * T + INGRESS + 2n * MESSAGE);
  });

  it('refunds all the attached cycles when the deposit traps', async () => {
    const { canister, send, ledgerBalance } = setup();
    const c = canister();
    const before = c.balance();
    assert.deepEqual(answer(await send(c, sendArg(LEDGER_FEE, CYCLES_LEDGER_ID, 'deposit', deposit(alice)))), { refund: LEDGER_FEE, replied: false });
    assert.equal(ledgerBalance(alice), 0n);
    assert.equal(before - c.balance(), INGRESS + 2n * MESSAGE);
  });

  it('refunds what a canister callee does not accept, and what the management canister is sent', async () => {
    const { canister, send } = setup();
    const [a, b] = [canister(), canister()];
    const [aBefore, bBefore] = [a.balance(), b.balance()];
    assert.deepEqual(answer(await send(a, sendArg(10n * T, b.id, 'half', new Uint8Array()))), { refund: 5n * T, replied: true });
    assert.equal(aBefore - a.balance(), 5n * T + INGRESS + 2n * MESSAGE);
    assert.equal(b.balance() - bBefore, 5n * T - MESSAGE);

    const rand = await send(a, sendArg(T, Principal.managementCanister(), 'raw_rand', new Uint8Array(IDL.encode([], []))));
    assert.deepEqual(answer(rand), { refund: T, replied: true });
  });

  it('traps when a canister attaches more cycles than it has, sending nothing', async () => {
    const { canister, send, ledgerBalance } = setup();
    const c = canister();
    const r = await send(c, sendArg(200n * T, CYCLES_LEDGER_ID, 'deposit', deposit(alice)));
    assert.deepEqual(r.status === 'rejected' && [r.code, r.errorCode], [ReplicaRejectCode.SysTransient, 'IC0207']);
    assert.equal(ledgerBalance(alice), 0n);
  });
});

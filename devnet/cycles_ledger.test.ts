import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ReplicaRejectCode } from '@dfinity/agent';
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { FEES, scale } from '../common/cycles.ts';
import { AttachedCycles } from './builtin.ts';
import { executionOptions } from './canister.ts';
import { ANONYMOUS_SEED, CyclesLedger, LEDGER_FEE } from './cycles_ledger.ts';
import { Account, cyclesLedgerIdl } from './cycles_ledger_idl.ts';
import { RejectError } from './errors.ts';
import { ManagementCanister } from './management.ts';
import { CanisterRegistry } from './registry.ts';

const anonymous = Principal.anonymous();
const alice = Principal.selfAuthenticating(new Uint8Array(32).fill(7));
const subnet = Principal.selfAuthenticating(new Uint8Array(32).fill(9));
const canisterCaller = Principal.fromText('bkyz2-fmaaa-aaaaa-qaaaq-cai');
const quiet = (): void => {};
const T = 1_000_000_000_000n;
const SECOND = 1_000_000_000n;
const NOW = 1_800_000_000n * SECOND;
const CREATION_FEE = scale(FEES.canisterCreation);
const methods = new Map(cyclesLedgerIdl({ IDL })._fields);

type Result = { Ok?: unknown; Err?: Record<string, unknown> };

describe('cycles ledger', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  function setup(dir = mkdtempSync(join(tmpdir(), 'icboot-ledger-')), options: { maxRecent?: number; management?: (m: ManagementCanister) => Pick<ManagementCanister, 'handle'> } = {}) {
    dirs.push(dir);
    const canisters = new CanisterRegistry(dir, quiet, executionOptions());
    const management = new ManagementCanister(canisters, quiet);
    const ledger = new CyclesLedger(dir, options.management?.(management) ?? management, subnet, options.maxRecent);
    const run = (kind: 'update' | 'query', caller: Principal, method: string, ...args: unknown[]): unknown => runAt(NOW, kind, caller, method, ...args);
    const runAt = (time: bigint, kind: 'update' | 'query', caller: Principal, method: string, ...args: unknown[]): unknown => {
      const f = methods.get(method)!;
      const reply = ledger[kind](caller, method, new Uint8Array(IDL.encode(f.argTypes, args)), time);
      return IDL.decode(f.retTypes, reply)[0];
    };
    const call = (caller: Principal, method: string, arg: unknown): Result => run('update', caller, method, arg) as Result;
    const balance = (owner: Principal, subaccount: [] | [Uint8Array] = []): bigint => run('query', owner, 'icrc1_balance_of', { owner, subaccount }) as bigint;
    const transfer = (from: Principal, to: Principal, amount: bigint, more: Record<string, unknown> = {}): Result =>
      call(from, 'icrc1_transfer', { from_subaccount: [], to: { owner: to, subaccount: [] }, amount, fee: [], memo: [], created_at_time: [], ...more });
    const create = (caller: Principal, amount: bigint, more: Record<string, unknown> = {}): Result =>
      call(caller, 'create_canister', { from_subaccount: [], created_at_time: [], amount, creation_args: [], ...more });
    /** A canister's deposit of `attached` cycles: the reply and what the ledger left of them for the refund. */
    const deposit = (to: Principal, attached: bigint, memo: [] | [Uint8Array] = []): { reply: unknown; refund: bigint } => {
      const cycles = new AttachedCycles(attached);
      const f = methods.get('deposit')!;
      const reply = IDL.decode(f.retTypes, ledger.update(canisterCaller, 'deposit', new Uint8Array(IDL.encode(f.argTypes, [{ to: { owner: to, subaccount: [] }, memo }])), NOW, cycles))[0];
      return { reply, refund: cycles.available };
    };
    return { dir, canisters, ledger, run, runAt, call, balance, transfer, create, deposit };
  }

  it('starts with the anonymous principal funded and serves the ICRC-1 queries', () => {
    const { run, balance } = setup();
    assert.equal(balance(anonymous), ANONYMOUS_SEED);
    assert.equal(balance(alice), 0n);
    assert.equal(run('query', alice, 'icrc1_total_supply'), ANONYMOUS_SEED);
    assert.equal(run('query', alice, 'icrc1_fee'), LEDGER_FEE);
    assert.equal(run('query', alice, 'icrc1_decimals'), 12);
    assert.equal(run('query', alice, 'icrc1_symbol'), 'TCYCLES');
    assert.deepEqual((run('query', alice, 'icrc1_supported_standards') as { name: string }[]).map((s) => s.name), ['ICRC-1']);
    assert.deepEqual(
      (run('query', alice, 'icrc1_metadata') as [string, unknown][]).find(([k]) => k === 'icrc1:fee'),
      ['icrc1:fee', { Nat: LEDGER_FEE }],
    );
  });

  it('transfers, charging the fee on top, with blocks counted after the seed', () => {
    const { transfer, balance, run } = setup();
    assert.deepEqual(transfer(anonymous, alice, 5n * T), { Ok: 1n });
    assert.equal(balance(alice), 5n * T);
    assert.equal(balance(anonymous), ANONYMOUS_SEED - 5n * T - LEDGER_FEE);
    assert.equal(run('query', alice, 'icrc1_total_supply'), ANONYMOUS_SEED - LEDGER_FEE, 'the fee is burnt');
    assert.deepEqual(transfer(alice, anonymous, T, { fee: [LEDGER_FEE] }), { Ok: 2n }, 'the right fee may be named');
    assert.equal(balance(alice), 4n * T - LEDGER_FEE);
  });

  it('refuses a wrong fee before looking at the funds, and what the balance cannot cover', () => {
    const { transfer, balance } = setup();
    assert.deepEqual(transfer(alice, anonymous, 10n * T, { fee: [1n] }), { Err: { BadFee: { expected_fee: LEDGER_FEE } } });
    transfer(anonymous, alice, T);
    assert.deepEqual(transfer(alice, anonymous, T), { Err: { InsufficientFunds: { balance: T } } }, 'the fee must fit too');
    assert.deepEqual(transfer(alice, anonymous, (1n << 128n) - 1n), { Err: { InsufficientFunds: { balance: T } } });
    assert.deepEqual(transfer(alice, anonymous, T - LEDGER_FEE), { Ok: 2n });
    assert.equal(balance(alice), 0n);
  });

  it('keeps subaccounts apart, the all-zero one being the default', () => {
    const { transfer, balance } = setup();
    const sub = new Uint8Array(32).fill(1);
    transfer(anonymous, alice, T, { to: { owner: alice, subaccount: [sub] } });
    transfer(anonymous, alice, 2n * T, { to: { owner: alice, subaccount: [new Uint8Array(32)] } });
    assert.equal(balance(alice, [sub]), T);
    assert.equal(balance(alice), 2n * T);
    assert.deepEqual(transfer(alice, anonymous, 1n, { from_subaccount: [sub] }), { Ok: 3n });
    assert.equal(balance(alice, [sub]), T - 1n - LEDGER_FEE);
  });

  it('deduplicates transactions that name a creation time, within the window only', () => {
    const { transfer, balance } = setup();
    const at = { created_at_time: [NOW - SECOND] };
    assert.deepEqual(transfer(anonymous, alice, T, at), { Ok: 1n });
    assert.deepEqual(transfer(anonymous, alice, T, at), { Err: { Duplicate: { duplicate_of: 1n } } });
    assert.equal(balance(alice), T);
    assert.deepEqual(transfer(anonymous, alice, T), { Ok: 2n }, 'without a creation time nothing is deduplicated');
    assert.deepEqual(transfer(anonymous, alice, T), { Ok: 3n });
    assert.deepEqual(transfer(anonymous, alice, T, { created_at_time: [NOW - 25n * 3600n * SECOND] }), { Err: { TooOld: null } });
    assert.deepEqual(transfer(anonymous, alice, T, { created_at_time: [NOW + 120n * SECOND] }), { Err: { CreatedInFuture: { ledger_time: NOW } } });
  });

  it('traps on a memo over 32 bytes and on arguments that are not its Candid', () => {
    const { transfer, ledger } = setup();
    const trapped = (e: unknown): boolean => e instanceof RejectError && e.rejectCode === ReplicaRejectCode.CanisterError && e.errorCode === 'IC0503';
    assert.throws(() => transfer(anonymous, alice, T, { memo: [new Uint8Array(33)] }), trapped);
    assert.throws(() => ledger.update(alice, 'icrc1_transfer', new Uint8Array(IDL.encode([IDL.Text], ['x'])), NOW), trapped);
  });

  it('refuses a long nat before decoding it, as a trap, and still answers', () => {
    const { ledger, balance } = setup();
    // icrc1_balance_of(account, nat) with the extra nat, which a decoder would skip, 100 KB long.
    const arg = new Uint8Array(IDL.encode([Account, IDL.Nat], [{ owner: alice, subaccount: [] }, 0n]));
    const hostile = new Uint8Array([...arg.subarray(0, -1), ...new Uint8Array(100_000).fill(0xff), 0x01]);
    const trapped = (e: unknown): boolean => e instanceof RejectError && e.rejectCode === ReplicaRejectCode.CanisterError && e.errorCode === 'IC0503';
    assert.throws(() => ledger.query(alice, 'icrc1_balance_of', hostile, NOW), trapped);
    assert.throws(() => ledger.update(alice, 'icrc1_transfer', hostile, NOW), trapped);
    assert.deepEqual(IDL.decode([IDL.Nat], ledger.query(alice, 'icrc1_balance_of', arg, NOW)), [0n], 'the same argument with a short nat passes');
    assert.equal(balance(anonymous), ANONYMOUS_SEED);
  });

  it('answers only its own methods, and updates only as updates', () => {
    const { ledger } = setup();
    const noMethod = (e: unknown): boolean => e instanceof RejectError && e.errorCode === 'IC0536';
    const empty = new Uint8Array(IDL.encode([], []));
    assert.throws(() => ledger.query(alice, 'icrc1_transfer', empty, NOW), noMethod);
    assert.throws(() => ledger.update(alice, 'icrc2_approve', empty, NOW), noMethod);
    assert.throws(() => ledger.update(alice, 'toString', empty, NOW), noMethod);
    assert.deepEqual(IDL.decode([IDL.Nat], ledger.update(alice, 'icrc1_fee', empty, NOW)), [LEDGER_FEE], 'a query method runs as an update too');
  });

  it('creates a canister with the amount less the creation fee, controlled by the caller unless told', () => {
    const { transfer, create, balance, canisters } = setup();
    transfer(anonymous, alice, 10n * T);
    const made = create(alice, 3n * T);
    const { canister_id: id, block_id } = made.Ok as { canister_id: Principal; block_id: bigint };
    assert.equal(block_id, 2n);
    assert.equal(balance(alice), 7n * T - LEDGER_FEE);
    const c = canisters.get(id);
    assert.equal(c.balance(), 3n * T - CREATION_FEE);
    assert.deepEqual(c.controllers.map((p) => p.toText()), [alice.toText()]);

    const other = Principal.fromText('aaaaa-aa');
    const settings = { controllers: [[alice, other]], compute_allocation: [], memory_allocation: [], freezing_threshold: [], reserved_cycles_limit: [], wasm_memory_limit: [], wasm_memory_threshold: [], log_visibility: [], environment_variables: [] };
    const second = create(alice, T, { creation_args: [{ settings: [settings], subnet_selection: [{ Subnet: { subnet } }] }] }).Ok as { canister_id: Principal };
    assert.deepEqual(canisters.get(second.canister_id).controllers.map((p) => p.toText()), [alice.toText(), other.toText()]);
  });

  it('refunds all but a fee when creation fails, and refuses what the balance cannot cover', () => {
    const { transfer, create, balance, canisters } = setup();
    transfer(anonymous, alice, 2n * T);
    assert.deepEqual(create(alice, 2n * T), { Err: { InsufficientFunds: { balance: 2n * T } } });
    const tooLittle = create(alice, CREATION_FEE - 1n);
    assert.equal(typeof (tooLittle.Err?.FailedToCreate as { error: string }).error, 'string');
    assert.deepEqual({ ...(tooLittle.Err?.FailedToCreate as object), error: '' }, { fee_block: [2n], refund_block: [3n], error: '' });
    assert.equal(balance(alice), 2n * T - 2n * LEDGER_FEE);
    const elsewhere = create(alice, T, { creation_args: [{ settings: [], subnet_selection: [{ Subnet: { subnet: alice } }] }] });
    assert.ok(elsewhere.Err?.FailedToCreate, 'the devnet has one subnet');
    assert.equal([...canisters.all()].length, 0);
  });

  it('remembers which canister a deduplicated creation made', () => {
    const { create } = setup();
    const at = { created_at_time: [NOW] };
    const { canister_id } = create(anonymous, T, at).Ok as { canister_id: Principal };
    assert.deepEqual(create(anonymous, T, at), { Err: { Duplicate: { duplicate_of: 1n, canister_id: [canister_id] } } });
  });

  it('withdraws to a canister as a deposit, and refunds when the canister is not there', () => {
    const { transfer, create, call, balance, canisters } = setup();
    transfer(anonymous, alice, 10n * T);
    const { canister_id: id } = create(alice, T).Ok as { canister_id: Principal };
    const before = canisters.get(id).balance();
    const withdraw = (to: Principal, amount: bigint): Result => call(alice, 'withdraw', { amount, from_subaccount: [], to, created_at_time: [] });
    assert.deepEqual(withdraw(id, 2n * T), { Ok: 3n });
    assert.equal(canisters.get(id).balance(), before + 2n * T);
    assert.equal(balance(alice), 7n * T - 2n * LEDGER_FEE);

    const missing = Principal.fromText('bd3sg-teaaa-aaaaa-qaaba-cai');
    const failed = withdraw(missing, T).Err?.FailedToWithdraw as { fee_block: bigint[]; rejection_code: object };
    assert.deepEqual([failed.fee_block, failed.rejection_code], [[5n], { DestinationInvalid: null }]);
    assert.equal(balance(alice), 7n * T - 4n * LEDGER_FEE);
    assert.deepEqual(withdraw(alice, T), { Err: { InvalidReceiver: { receiver: alice } } });
    assert.equal((withdraw(id, 0n).Err?.GenericError as { error_code: bigint }).error_code, 100_002n);
    assert.deepEqual(withdraw(id, 100n * T), { Err: { InsufficientFunds: { balance: 7n * T - 4n * LEDGER_FEE } } });
  });

  it('has kept the debit of a withdrawal or creation on disk when it calls the management canister', () => {
    const seen: bigint[] = [];
    const first = setup(undefined, {
      // A ledger restored from the state dir mid-call sees what a crash at that point would leave.
      management: (real) => ({
        handle: (...a: Parameters<ManagementCanister['handle']>) => {
          const restored = new CyclesLedger(first.dir, real, subnet);
          const reply = restored.query(alice, 'icrc1_balance_of', new Uint8Array(IDL.encode([Account], [{ owner: alice, subaccount: [] }])), NOW);
          seen.push(IDL.decode([IDL.Nat], reply)[0] as bigint);
          return real.handle(...a);
        },
      }),
    });
    first.transfer(anonymous, alice, 10n * T);
    const { canister_id: id } = first.create(alice, 3n * T).Ok as { canister_id: Principal };
    first.call(alice, 'withdraw', { amount: 2n * T, from_subaccount: [], to: id, created_at_time: [] });
    assert.deepEqual(seen, [7n * T - LEDGER_FEE, 5n * T - 2n * LEDGER_FEE]);
  });

  it('keeps at most its cap of deduplicated transactions, refusing more until the window lets old ones go', () => {
    const { runAt, balance } = setup(undefined, { maxRecent: 3 });
    const transfer = (at: bigint, now = NOW): unknown => runAt(now, 'update', anonymous, 'icrc1_transfer',
      { from_subaccount: [], to: { owner: alice, subaccount: [] }, amount: T, fee: [], memo: [], created_at_time: [at] });
    assert.deepEqual([transfer(NOW - 3n), transfer(NOW - 2n), transfer(NOW - 1n)], [{ Ok: 1n }, { Ok: 2n }, { Ok: 3n }]);
    assert.deepEqual(transfer(NOW), { Err: { TemporarilyUnavailable: null } });
    assert.equal(balance(alice), 3n * T, 'a refused transfer moves nothing');
    assert.deepEqual(transfer(NOW - 1n), { Err: { Duplicate: { duplicate_of: 3n } } }, 'the ones it keeps still deduplicate');
    assert.deepEqual(runAt(NOW, 'update', anonymous, 'icrc1_transfer', { from_subaccount: [], to: { owner: alice, subaccount: [] }, amount: T, fee: [], memo: [], created_at_time: [] }), { Ok: 4n }, 'a transfer without a creation time is not kept');
    const later = NOW + 25n * 3600n * SECOND;
    assert.deepEqual(transfer(later, later), { Ok: 5n }, 'past the window the old ones are let go');
  });

  it('mints the attached cycles less the fee on deposit, keeping all of them', () => {
    const { deposit, balance, run } = setup();
    assert.deepEqual(deposit(alice, 3n * T), { reply: { block_index: 1n, balance: 3n * T - LEDGER_FEE }, refund: 0n });
    assert.deepEqual(deposit(alice, LEDGER_FEE + 1n, [new Uint8Array(32)]), { reply: { block_index: 2n, balance: 3n * T - LEDGER_FEE + 1n }, refund: 0n }, 'one cycle over the fee is enough');
    assert.equal(balance(alice), 3n * T - LEDGER_FEE + 1n);
    assert.equal(run('query', alice, 'icrc1_total_supply'), ANONYMOUS_SEED + 3n * T - LEDGER_FEE + 1n);
  });

  it('traps on a deposit the fee would leave nothing of, or with a memo over 32 bytes, minting nothing', () => {
    const { deposit, balance } = setup();
    const trapped = (e: unknown): boolean => e instanceof RejectError && e.rejectCode === ReplicaRejectCode.CanisterError && e.errorCode === 'IC0503';
    assert.throws(() => deposit(alice, 0n), trapped, 'an ingress deposit brings no cycles');
    assert.throws(() => deposit(alice, LEDGER_FEE - 1n), trapped);
    assert.throws(() => deposit(alice, LEDGER_FEE), trapped);
    assert.throws(() => deposit(alice, T, [new Uint8Array(33)]), trapped);
    assert.equal(balance(alice), 0n);
  });

  it('keeps balances, blocks and recent transactions across a restart', () => {
    const first = setup();
    const at = { created_at_time: [NOW] };
    first.transfer(anonymous, alice, T, at);
    first.canisters.close();
    first.deposit(alice, 2n * T);
    const second = setup(first.dir);
    assert.equal(second.balance(alice), 3n * T - LEDGER_FEE);
    assert.deepEqual(second.transfer(anonymous, alice, T, at), { Err: { Duplicate: { duplicate_of: 1n } } });
    assert.deepEqual(second.transfer(anonymous, alice, T), { Ok: 3n });
  });
});

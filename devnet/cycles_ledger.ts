// The cycles ledger (um5iw-rqaaa-aaaaq-qaaba-cai) as a devnet builtin: ICRC-1
// balances and transfers of cycles, deposit, create_canister and withdraw, with the
// real ledger's fee, error variants and deduplication. As on PocketIC's local
// network, the anonymous principal starts with 2^127-1 cycles to fund others
// from. Balances and the block count persist in the state dir.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ReplicaRejectCode } from '@dfinity/agent';
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { bytesToHex } from '@noble/hashes/utils';
import { MANAGEMENT_METHODS } from '../common/management_idl.ts';
import { writeAtomic } from '../common/write_atomic.ts';
import type { AttachedCycles, BuiltinCanister } from './builtin.ts';
import { CandidMethods, decodeFailure, trap } from './candid_methods.ts';
import { CanisterSettings, cyclesLedgerIdl } from './cycles_ledger_idl.ts';
import { RejectError } from './errors.ts';
import type { ManagementCanister } from './management.ts';

export const CYCLES_LEDGER_ID = Principal.fromText('um5iw-rqaaa-aaaaq-qaaba-cai');
/** What every transfer, withdrawal and creation costs on top of its amount. */
export const LEDGER_FEE = 100_000_000n;
/** PocketIC seeds the anonymous principal with i128::MAX cycles. */
export const ANONYMOUS_SEED = (1n << 127n) - 1n;

const U128_MAX = (1n << 128n) - 1n;
const DECIMALS = 12;
const MAX_MEMO_BYTES = 32;
const SECOND = 1_000_000_000n;
/** created_at_time is accepted this far back (plus the drift) and deduplicated that long. */
const TRANSACTION_WINDOW = 24n * 3600n * SECOND;
const PERMITTED_DRIFT = 60n * SECOND;
/**
 * How many deduplicated transactions the devnet keeps at once. The real ledger
 * bounds them by the window alone; the devnet, which rewrites its state file
 * on every transaction, also caps their number and answers TemporarilyUnavailable
 * when full, as ICRC ledgers do when throttled.
 */
export const MAX_RECENT_TRANSACTIONS = 10_000;
const UNKNOWN_GENERIC_ERROR = 100_000n;
const CANNOT_TRANSFER_FROM_ZERO = 100_002n;
const REJECTION_CODES = ['NoError', 'SysFatal', 'SysTransient', 'DestinationInvalid', 'CanisterReject', 'CanisterError'];

type Opt<T> = [] | [T];
interface Account { owner: Principal; subaccount: Opt<Uint8Array> }
interface TransferArgs { from_subaccount: Opt<Uint8Array>; to: Account; amount: bigint; fee: Opt<bigint>; memo: Opt<Uint8Array>; created_at_time: Opt<bigint> }
interface DepositArgs { to: Account; memo: Opt<Uint8Array> }
interface WithdrawArgs { amount: bigint; from_subaccount: Opt<Uint8Array>; to: Principal; created_at_time: Opt<bigint> }
interface CreateCanisterArgs {
  from_subaccount: Opt<Uint8Array>;
  created_at_time: Opt<bigint>;
  amount: bigint;
  creation_args: Opt<{ settings: Opt<Record<string, unknown>>; subnet_selection: Opt<{ Subnet: { subnet: Principal } } | { Filter: { subnet_type: Opt<string> } }> }>;
}

/** An `Err` variant value the method answers with instead of `Ok`. */
class Refusal {
  constructor(readonly err: Record<string, unknown>) {}
}

interface Recent { block: bigint; at: bigint; canister?: string }
interface Saved { balances: [string, string][]; blocks: string; recent: [string, string, string, string?][] }

/** What the CMC passes on to the management canister: the ledger's settings and the cycles. */
const ProvisionalCreate = IDL.Record({ amount: IDL.Opt(IDL.Nat), settings: IDL.Opt(CanisterSettings) });

export class CyclesLedger implements BuiltinCanister {
  readonly id = CYCLES_LEDGER_ID;
  private readonly file: string;
  private readonly service: CandidMethods;
  private readonly balances = new Map<string, bigint>();
  /** Transactions with a created_at_time, by their contents, while they can be replayed. */
  private readonly recent = new Map<string, Recent>();
  private blocks = 0n;

  constructor(
    stateDir: string,
    private readonly management: Pick<ManagementCanister, 'handle'>,
    private readonly subnetId: Principal,
    private readonly maxRecent = MAX_RECENT_TRANSACTIONS,
  ) {
    this.file = join(stateDir, 'cycles_ledger.json');
    if (existsSync(this.file)) {
      const saved = JSON.parse(readFileSync(this.file, 'utf8')) as Saved;
      for (const [k, v] of saved.balances) this.balances.set(k, BigInt(v));
      for (const [k, block, at, canister] of saved.recent) this.recent.set(k, { block: BigInt(block), at: BigInt(at), canister });
      this.blocks = BigInt(saved.blocks);
    } else {
      // Block 0 mints the seed, as the ledger's initial balances do.
      this.balances.set(keyOf({ owner: Principal.anonymous(), subaccount: [] }), ANONYMOUS_SEED);
      this.blocks = 1n;
      this.save();
    }
    const ok = (f: () => unknown): unknown[] => {
      try {
        return [{ Ok: f() }];
      } catch (e) {
        if (e instanceof Refusal) return [{ Err: e.err }];
        throw e;
      }
    };
    this.service = new CandidMethods(this.id, cyclesLedgerIdl, {
      icrc1_balance_of: (_, [a]) => [this.balance(this.account(a as Account))],
      icrc1_fee: () => [LEDGER_FEE],
      icrc1_decimals: () => [DECIMALS],
      icrc1_symbol: () => ['TCYCLES'],
      icrc1_name: () => ['Trillion Cycles'],
      icrc1_metadata: () => [[
        ['icrc1:decimals', { Nat: BigInt(DECIMALS) }],
        ['icrc1:name', { Text: 'Trillion Cycles' }],
        ['icrc1:symbol', { Text: 'TCYCLES' }],
        ['icrc1:fee', { Nat: LEDGER_FEE }],
        ['icrc1:max_memo_length', { Nat: BigInt(MAX_MEMO_BYTES) }],
      ]],
      icrc1_total_supply: () => [this.totalSupply()],
      icrc1_supported_standards: () => [[{ name: 'ICRC-1', url: 'https://github.com/dfinity/ICRC-1/blob/main/standards/ICRC-1/README.md' }]],
      icrc1_transfer: (caller, [a], time) => ok(() => this.transfer(caller, a as TransferArgs, time)),
      // All the attached cycles are taken: what the fee leaves is minted.
      deposit: (_, [a], time, cycles) => [this.deposit(a as DepositArgs, cycles.accept(cycles.available), time)],
      withdraw: (caller, [a], time) => ok(() => this.withdraw(caller, a as WithdrawArgs, time)),
      create_canister: (caller, [a], time) => ok(() => this.createCanister(caller, a as CreateCanisterArgs, time)),
    });
  }

  update(caller: Principal, method: string, arg: Uint8Array, time: bigint, cycles?: AttachedCycles): Uint8Array {
    return this.service.update(caller, method, arg, time, cycles);
  }

  query(caller: Principal, method: string, arg: Uint8Array, time: bigint): Uint8Array {
    return this.service.query(caller, method, arg, time);
  }

  private transfer(caller: Principal, a: TransferArgs, time: bigint): bigint {
    const from = this.account({ owner: caller, subaccount: a.from_subaccount });
    const to = this.account(a.to);
    const tx = txKey('transfer', from, to, a.amount, a.fee[0], a.memo[0], a.created_at_time[0]);
    const seen = this.recent.get(tx);
    if (seen) throw new Refusal({ Duplicate: { duplicate_of: seen.block } });
    // BadFee comes before InsufficientFunds, as ICRC-1 asks.
    if (a.fee.length > 0 && a.fee[0] !== LEDGER_FEE) throw new Refusal({ BadFee: { expected_fee: LEDGER_FEE } });
    this.checkFunds(from, a.amount);
    if (this.balance(to) + a.amount > U128_MAX) {
      throw new Refusal({ GenericError: { error_code: UNKNOWN_GENERIC_ERROR, message: `The balance of ${keyOf(to)} would overflow` } });
    }
    const block = this.emit(tx, a.memo[0], a.created_at_time[0], time);
    this.move(from, -(a.amount + LEDGER_FEE));
    this.move(to, a.amount);
    this.save();
    return block;
  }

  /**
   * Mints `amount` cycles (those a canister attached) less the fee to `to`.
   * It traps, as the real ledger does, when nothing would be left, and the
   * replica then refunds the cycles to the caller.
   */
  private deposit(a: DepositArgs, amount: bigint, time: bigint): { block_index: bigint; balance: bigint } {
    const to = this.account(a.to);
    if (amount < LEDGER_FEE) throw trap(this.id, `The requested amount ${amount} to be deposited is less than the cycles ledger fee: ${LEDGER_FEE}`);
    if (amount === LEDGER_FEE) throw trap(this.id, `Cannot deposit 0 cycles (amount: ${amount}, cycles ledger fee: ${LEDGER_FEE})`);
    const minted = amount - LEDGER_FEE;
    if (this.balance(to) + minted > U128_MAX || this.totalSupply() + minted > U128_MAX) throw trap(this.id, `Unable to mint ${minted} cycles to ${keyOf(to)}`);
    const block_index = this.emit(null, a.memo[0], undefined, time);
    this.move(to, minted);
    this.save();
    return { block_index, balance: this.balance(to) };
  }

  private withdraw(caller: Principal, a: WithdrawArgs, time: bigint): bigint {
    const from = this.account({ owner: caller, subaccount: a.from_subaccount });
    // A self-authenticating principal is a user, and users hold no cycles outside the ledger.
    const bytes = a.to.toUint8Array();
    if (bytes.length === 29 && bytes[28] === 2) throw new Refusal({ InvalidReceiver: { receiver: a.to } });
    if (a.amount === 0n) throw new Refusal({ GenericError: { error_code: CANNOT_TRANSFER_FROM_ZERO, message: 'The withdraw_from 0 cycles is not possible' } });
    const tx = txKey('withdraw', from, a.to.toText(), a.amount, undefined, undefined, a.created_at_time[0]);
    const seen = this.recent.get(tx);
    if (seen) throw new Refusal({ Duplicate: { duplicate_of: seen.block } });
    this.checkFunds(from, a.amount);
    const block = this.emit(tx, undefined, a.created_at_time[0], time);
    this.move(from, -(a.amount + LEDGER_FEE));
    // The burn is kept before calling out, as the real ledger commits it before its await.
    this.save();
    try {
      const top = MANAGEMENT_METHODS.provisional_top_up_canister.arg;
      this.management.handle(this.id, 'provisional_top_up_canister', new Uint8Array(IDL.encode([top], [{ canister_id: a.to, amount: a.amount }])), 'canister', time);
    } catch (e) {
      if (!(e instanceof RejectError)) throw e;
      const refund = this.refund(from, a.amount, time);
      this.save();
      throw new Refusal({ FailedToWithdraw: { fee_block: refund, rejection_code: { [REJECTION_CODES[e.rejectCode] ?? 'Unknown']: null }, rejection_reason: e.message } });
    }
    return block;
  }

  private createCanister(caller: Principal, a: CreateCanisterArgs, time: bigint): { block_id: bigint; canister_id: Principal } {
    const from = this.account({ owner: caller, subaccount: a.from_subaccount });
    const tx = txKey('create_canister', from, '', a.amount, undefined, undefined, a.created_at_time[0]);
    const seen = this.recent.get(tx);
    if (seen) throw new Refusal({ Duplicate: { duplicate_of: seen.block, canister_id: seen.canister ? [Principal.fromText(seen.canister)] : [] } });
    this.checkFunds(from, a.amount);
    const block = this.emit(tx, undefined, a.created_at_time[0], time);
    this.move(from, -(a.amount + LEDGER_FEE));
    this.save();
    const creation = a.creation_args[0];
    const given = creation?.settings[0];
    // Controllers left out default to the caller; an empty list given stays empty.
    const settings = { ...(given ?? emptySettings()), controllers: (given?.controllers as Opt<Principal[]> | undefined)?.length ? given!.controllers : [[caller]] };
    try {
      this.checkSubnet(creation?.subnet_selection[0]);
      const reply = this.management.handle(this.id, 'provisional_create_canister_with_cycles', new Uint8Array(IDL.encode([ProvisionalCreate], [{ amount: [a.amount], settings: [settings] }])), 'canister', time);
      const [{ canister_id }] = IDL.decode([...MANAGEMENT_METHODS.provisional_create_canister_with_cycles.ret], reply) as unknown as [{ canister_id: Principal }];
      const recent = this.recent.get(tx);
      if (recent) recent.canister = canister_id.toText();
      this.save();
      return { block_id: block, canister_id };
    } catch (e) {
      if (!(e instanceof RejectError)) throw e;
      const refund = this.refund(from, a.amount, time);
      this.save();
      throw new Refusal({ FailedToCreate: { fee_block: [block], refund_block: refund, error: e.message } });
    }
  }

  /** The CMC creates only on the devnet's one subnet. */
  private checkSubnet(selection: { Subnet: { subnet: Principal } } | { Filter: { subnet_type: Opt<string> } } | undefined): void {
    if (!selection) return;
    if ('Subnet' in selection && selection.Subnet.subnet.toText() !== this.subnetId.toText()) {
      throw new RejectError(ReplicaRejectCode.CanisterReject, 'IC0406', `Subnet ${selection.Subnet.subnet.toText()} does not exist; the devnet's one subnet is ${this.subnetId.toText()}`);
    }
    if ('Filter' in selection && selection.Filter.subnet_type.length > 0) {
      throw new RejectError(ReplicaRejectCode.CanisterReject, 'IC0406', `No subnet of type ${selection.Filter.subnet_type[0]} exists on the devnet`);
    }
  }

  /** Gives back what a failed withdrawal or creation burnt, less the fee of the refund's own block. */
  private refund(to: Account, amount: bigint, time: bigint): Opt<bigint> {
    const back = amount - LEDGER_FEE;
    if (back <= 0n) return [];
    this.move(to, back);
    return [this.emit(null, undefined, undefined, time)];
  }

  private checkFunds(from: Account, amount: bigint): void {
    const balance = this.balance(from);
    // An amount plus fee beyond u128 is more than anyone can have.
    if (amount + LEDGER_FEE > U128_MAX || balance < amount + LEDGER_FEE) throw new Refusal({ InsufficientFunds: { balance } });
  }

  /** Appends a block: checks the memo and created_at_time, remembers the transaction for deduplication. */
  private emit(tx: string | null, memo: Uint8Array | undefined, createdAt: bigint | undefined, now: bigint): bigint {
    // The ledger traps on an oversized memo, as the ICRC-1 and ICP ledgers do.
    if (memo && memo.length > MAX_MEMO_BYTES) throw trap(this.id, `memo length exceeds the maximum of ${MAX_MEMO_BYTES} bytes`);
    if (createdAt !== undefined) {
      if (createdAt + TRANSACTION_WINDOW + PERMITTED_DRIFT < now) throw new Refusal({ TooOld: null });
      if (createdAt > now + PERMITTED_DRIFT) throw new Refusal({ CreatedInFuture: { ledger_time: now } });
    }
    for (const [k, r] of this.recent) if (r.at + TRANSACTION_WINDOW + PERMITTED_DRIFT < now) this.recent.delete(k);
    if (tx !== null && createdAt !== undefined && this.recent.size >= this.maxRecent) throw new Refusal({ TemporarilyUnavailable: null });
    const block = this.blocks++;
    if (tx !== null && createdAt !== undefined) this.recent.set(tx, { block, at: createdAt });
    return block;
  }

  private totalSupply(): bigint {
    return [...this.balances.values()].reduce((a, b) => a + b, 0n);
  }

  private balance(a: Account): bigint {
    return this.balances.get(keyOf(a)) ?? 0n;
  }

  private move(a: Account, delta: bigint): void {
    const next = this.balance(a) + delta;
    if (next === 0n) this.balances.delete(keyOf(a));
    else this.balances.set(keyOf(a), next);
  }

  /** The account as given, trapping as Candid decoding of a 32-byte subaccount would. */
  private account(a: Account): Account {
    const sub = a.subaccount[0];
    if (sub && sub.length !== 32) throw decodeFailure(this.id, `a subaccount is 32 bytes, not ${sub.length}`);
    return a;
  }

  private save(): void {
    const saved: Saved = {
      balances: [...this.balances].map(([k, v]) => [k, v.toString()]),
      blocks: this.blocks.toString(),
      recent: [...this.recent].map(([k, r]) => [k, r.block.toString(), r.at.toString(), ...(r.canister ? [r.canister] : [])] as Saved['recent'][number]),
    };
    writeAtomic(this.file, JSON.stringify(saved) + '\n');
  }
}

/** A settings record with every field the ledger knows unset. */
function emptySettings(): Record<string, unknown> {
  return Object.fromEntries(CanisterSettings._fields.map(([k]) => [k, []]));
}

/** An account's balance key: the owner, and the subaccount unless it is the default (all zero). */
function keyOf(a: Account): string {
  const sub = a.subaccount[0];
  return sub && sub.some((b) => b !== 0) ? `${a.owner.toText()}.${bytesToHex(sub)}` : a.owner.toText();
}

/** A transaction's identity for deduplication: everything the caller said about it. */
function txKey(kind: string, from: Account, to: Account | string, amount: bigint, fee: bigint | undefined, memo: Uint8Array | undefined, createdAt: bigint | undefined): string {
  return JSON.stringify([kind, keyOf(from), typeof to === 'string' ? to : keyOf(to), amount.toString(), fee?.toString() ?? null, memo ? bytesToHex(memo) : null, createdAt?.toString() ?? null]);
}

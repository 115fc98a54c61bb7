// Candid types of the cycles ledger methods the devnet serves, as in
// dfinity/cycles-ledger cycles-ledger.did (the interface icp-cli calls).
import { IDL } from '@dfinity/candid';
import { EnvVar, LogVisibility } from '../common/management_idl.ts';

const Subaccount = IDL.Vec(IDL.Nat8);
export const Account = IDL.Record({ owner: IDL.Principal, subaccount: IDL.Opt(Subaccount) });

/** The ledger's view of canister settings: fields a caller sends beyond these are dropped on decoding. */
export const CanisterSettings = IDL.Record({
  controllers: IDL.Opt(IDL.Vec(IDL.Principal)),
  compute_allocation: IDL.Opt(IDL.Nat),
  memory_allocation: IDL.Opt(IDL.Nat),
  freezing_threshold: IDL.Opt(IDL.Nat),
  reserved_cycles_limit: IDL.Opt(IDL.Nat),
  wasm_memory_limit: IDL.Opt(IDL.Nat),
  wasm_memory_threshold: IDL.Opt(IDL.Nat),
  log_visibility: IDL.Opt(LogVisibility),
  environment_variables: IDL.Opt(IDL.Vec(EnvVar)),
});
const SubnetSelection = IDL.Variant({
  Subnet: IDL.Record({ subnet: IDL.Principal }),
  Filter: IDL.Record({ subnet_type: IDL.Opt(IDL.Text) }),
});

export const TransferArgs = IDL.Record({
  from_subaccount: IDL.Opt(Subaccount),
  to: Account,
  amount: IDL.Nat,
  fee: IDL.Opt(IDL.Nat),
  memo: IDL.Opt(IDL.Vec(IDL.Nat8)),
  created_at_time: IDL.Opt(IDL.Nat64),
});
const GenericError = IDL.Record({ message: IDL.Text, error_code: IDL.Nat });
export const TransferError = IDL.Variant({
  BadFee: IDL.Record({ expected_fee: IDL.Nat }),
  BadBurn: IDL.Record({ min_burn_amount: IDL.Nat }),
  InsufficientFunds: IDL.Record({ balance: IDL.Nat }),
  TooOld: IDL.Null,
  CreatedInFuture: IDL.Record({ ledger_time: IDL.Nat64 }),
  Duplicate: IDL.Record({ duplicate_of: IDL.Nat }),
  TemporarilyUnavailable: IDL.Null,
  GenericError,
});

export const DepositArgs = IDL.Record({ to: Account, memo: IDL.Opt(IDL.Vec(IDL.Nat8)) });
export const DepositResult = IDL.Record({ balance: IDL.Nat, block_index: IDL.Nat });

export const WithdrawArgs = IDL.Record({
  amount: IDL.Nat,
  from_subaccount: IDL.Opt(Subaccount),
  to: IDL.Principal,
  created_at_time: IDL.Opt(IDL.Nat64),
});
const RejectionCode = IDL.Variant({
  NoError: IDL.Null, SysFatal: IDL.Null, SysTransient: IDL.Null, DestinationInvalid: IDL.Null,
  CanisterReject: IDL.Null, CanisterError: IDL.Null, Unknown: IDL.Null,
});
export const WithdrawError = IDL.Variant({
  GenericError,
  TemporarilyUnavailable: IDL.Null,
  FailedToWithdraw: IDL.Record({ fee_block: IDL.Opt(IDL.Nat), rejection_code: RejectionCode, rejection_reason: IDL.Text }),
  Duplicate: IDL.Record({ duplicate_of: IDL.Nat }),
  BadFee: IDL.Record({ expected_fee: IDL.Nat }),
  InvalidReceiver: IDL.Record({ receiver: IDL.Principal }),
  CreatedInFuture: IDL.Record({ ledger_time: IDL.Nat64 }),
  TooOld: IDL.Null,
  InsufficientFunds: IDL.Record({ balance: IDL.Nat }),
});

export const CreateCanisterArgs = IDL.Record({
  from_subaccount: IDL.Opt(Subaccount),
  created_at_time: IDL.Opt(IDL.Nat64),
  amount: IDL.Nat,
  creation_args: IDL.Opt(IDL.Record({ settings: IDL.Opt(CanisterSettings), subnet_selection: IDL.Opt(SubnetSelection) })),
});
export const CreateCanisterError = IDL.Variant({
  InsufficientFunds: IDL.Record({ balance: IDL.Nat }),
  TooOld: IDL.Null,
  CreatedInFuture: IDL.Record({ ledger_time: IDL.Nat64 }),
  TemporarilyUnavailable: IDL.Null,
  Duplicate: IDL.Record({ duplicate_of: IDL.Nat, canister_id: IDL.Opt(IDL.Principal) }),
  FailedToCreate: IDL.Record({ fee_block: IDL.Opt(IDL.Nat), refund_block: IDL.Opt(IDL.Nat), error: IDL.Text }),
  GenericError,
});
export const CreateCanisterSuccess = IDL.Record({ block_id: IDL.Nat, canister_id: IDL.Principal });

export const MetadataValue = IDL.Variant({ Nat: IDL.Nat, Int: IDL.Int, Text: IDL.Text, Blob: IDL.Vec(IDL.Nat8) });
export const SupportedStandard = IDL.Record({ url: IDL.Text, name: IDL.Text });

/** The served subset of the ledger's service, for agents' actors. */
export const cyclesLedgerIdl: IDL.InterfaceFactory = ({ IDL: I }) => I.Service({
  icrc1_balance_of: I.Func([Account], [I.Nat], ['query']),
  icrc1_fee: I.Func([], [I.Nat], ['query']),
  icrc1_decimals: I.Func([], [I.Nat8], ['query']),
  icrc1_symbol: I.Func([], [I.Text], ['query']),
  icrc1_name: I.Func([], [I.Text], ['query']),
  icrc1_metadata: I.Func([], [I.Vec(I.Tuple(I.Text, MetadataValue))], ['query']),
  icrc1_total_supply: I.Func([], [I.Nat], ['query']),
  icrc1_supported_standards: I.Func([], [I.Vec(SupportedStandard)], ['query']),
  icrc1_transfer: I.Func([TransferArgs], [I.Variant({ Ok: I.Nat, Err: TransferError })], []),
  deposit: I.Func([DepositArgs], [DepositResult], []),
  withdraw: I.Func([WithdrawArgs], [I.Variant({ Ok: I.Nat, Err: WithdrawError })], []),
  create_canister: I.Func([CreateCanisterArgs], [I.Variant({ Ok: CreateCanisterSuccess, Err: CreateCanisterError })], []),
});

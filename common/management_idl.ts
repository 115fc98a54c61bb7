// Candid types of the IC management canister (aaaaa-aa) methods that icboot
// calls and the devnet serves, per the IC interface specification (the
// canister_status result and settings of ic-management-canister-types 0.9,
// which icp-cli 1.5 decodes strictly).
import { IDL } from '@dfinity/candid';

/** Who may see a canister's logs, status or snapshots; the cycles ledger's settings use it too. */
export const LogVisibility = IDL.Variant({ controllers: IDL.Null, public: IDL.Null, allowed_viewers: IDL.Vec(IDL.Principal) });
export const EnvVar = IDL.Record({ name: IDL.Text, value: IDL.Text });
const Settings = IDL.Record({
  controllers: IDL.Opt(IDL.Vec(IDL.Principal)),
  compute_allocation: IDL.Opt(IDL.Nat),
  memory_allocation: IDL.Opt(IDL.Nat),
  freezing_threshold: IDL.Opt(IDL.Nat),
  reserved_cycles_limit: IDL.Opt(IDL.Nat),
  minimum_incoming_canister_call_cycles: IDL.Opt(IDL.Nat),
  log_visibility: IDL.Opt(LogVisibility),
  log_memory_limit: IDL.Opt(IDL.Nat),
  snapshot_visibility: IDL.Opt(LogVisibility),
  status_visibility: IDL.Opt(LogVisibility),
  wasm_memory_limit: IDL.Opt(IDL.Nat),
  wasm_memory_threshold: IDL.Opt(IDL.Nat),
  environment_variables: IDL.Opt(IDL.Vec(EnvVar)),
});
const DefiniteSettings = IDL.Record({
  controllers: IDL.Vec(IDL.Principal),
  compute_allocation: IDL.Nat,
  memory_allocation: IDL.Nat,
  freezing_threshold: IDL.Nat,
  reserved_cycles_limit: IDL.Nat,
  minimum_incoming_canister_call_cycles: IDL.Nat,
  log_visibility: LogVisibility,
  log_memory_limit: IDL.Nat,
  snapshot_visibility: LogVisibility,
  status_visibility: LogVisibility,
  wasm_memory_limit: IDL.Nat,
  wasm_memory_threshold: IDL.Nat,
  environment_variables: IDL.Vec(EnvVar),
});
const Mode = IDL.Variant({
  install: IDL.Null,
  reinstall: IDL.Null,
  upgrade: IDL.Opt(IDL.Record({
    skip_pre_upgrade: IDL.Opt(IDL.Bool),
    wasm_memory_persistence: IDL.Opt(IDL.Variant({ keep: IDL.Null, replace: IDL.Null })),
  })),
});
const CanisterIdArg = IDL.Record({ canister_id: IDL.Principal });
const LogRange = IDL.Record({ start: IDL.Nat64, end: IDL.Nat64 });
const ChunkHash = IDL.Record({ hash: IDL.Vec(IDL.Nat8) });
const Status = IDL.Record({
  status: IDL.Variant({ running: IDL.Null, stopping: IDL.Null, stopped: IDL.Null }),
  ready_for_migration: IDL.Bool,
  version: IDL.Nat64,
  settings: DefiniteSettings,
  module_hash: IDL.Opt(IDL.Vec(IDL.Nat8)),
  memory_size: IDL.Nat,
  memory_metrics: IDL.Record({
    wasm_memory_size: IDL.Nat,
    stable_memory_size: IDL.Nat,
    global_memory_size: IDL.Nat,
    wasm_binary_size: IDL.Nat,
    custom_sections_size: IDL.Nat,
    canister_history_size: IDL.Nat,
    wasm_chunk_store_size: IDL.Nat,
    snapshots_size: IDL.Nat,
    log_memory_store_size: IDL.Nat,
  }),
  cycles: IDL.Nat,
  reserved_cycles: IDL.Nat,
  idle_cycles_burned_per_day: IDL.Nat,
  query_stats: IDL.Record({
    num_calls_total: IDL.Nat,
    num_instructions_total: IDL.Nat,
    request_payload_bytes_total: IDL.Nat,
    response_payload_bytes_total: IDL.Nat,
  }),
});

/** Candid argument and result types of each supported method. */
export const MANAGEMENT_METHODS = {
  provisional_create_canister_with_cycles: {
    arg: IDL.Record({
      amount: IDL.Opt(IDL.Nat),
      settings: IDL.Opt(Settings),
      specified_id: IDL.Opt(IDL.Principal),
      sender_canister_version: IDL.Opt(IDL.Nat64),
    }),
    ret: [IDL.Record({ canister_id: IDL.Principal })],
  },
  provisional_top_up_canister: { arg: IDL.Record({ canister_id: IDL.Principal, amount: IDL.Nat }), ret: [] },
  install_code: {
    arg: IDL.Record({
      mode: Mode,
      canister_id: IDL.Principal,
      wasm_module: IDL.Vec(IDL.Nat8),
      arg: IDL.Vec(IDL.Nat8),
      sender_canister_version: IDL.Opt(IDL.Nat64),
    }),
    ret: [],
  },
  install_chunked_code: {
    arg: IDL.Record({
      mode: Mode,
      target_canister: IDL.Principal,
      store_canister: IDL.Opt(IDL.Principal),
      chunk_hashes_list: IDL.Vec(ChunkHash),
      wasm_module_hash: IDL.Vec(IDL.Nat8),
      arg: IDL.Vec(IDL.Nat8),
      sender_canister_version: IDL.Opt(IDL.Nat64),
    }),
    ret: [],
  },
  upload_chunk: { arg: IDL.Record({ canister_id: IDL.Principal, chunk: IDL.Vec(IDL.Nat8) }), ret: [ChunkHash] },
  clear_chunk_store: { arg: CanisterIdArg, ret: [] },
  stored_chunks: { arg: CanisterIdArg, ret: [IDL.Vec(ChunkHash)] },
  uninstall_code: { arg: IDL.Record({ canister_id: IDL.Principal, sender_canister_version: IDL.Opt(IDL.Nat64) }), ret: [] },
  update_settings: {
    arg: IDL.Record({ canister_id: IDL.Principal, settings: Settings, sender_canister_version: IDL.Opt(IDL.Nat64) }),
    ret: [],
  },
  canister_status: { arg: CanisterIdArg, ret: [Status] },
  start_canister: { arg: CanisterIdArg, ret: [] },
  stop_canister: { arg: CanisterIdArg, ret: [] },
  delete_canister: { arg: CanisterIdArg, ret: [] },
  raw_rand: { arg: null, ret: [IDL.Vec(IDL.Nat8)] },
  fetch_canister_logs: {
    arg: IDL.Record({
      canister_id: IDL.Principal,
      filter: IDL.Opt(IDL.Variant({ by_idx: LogRange, by_timestamp_nanos: LogRange })),
    }),
    ret: [IDL.Record({
      canister_log_records: IDL.Vec(IDL.Record({ idx: IDL.Nat64, timestamp_nanos: IDL.Nat64, content: IDL.Vec(IDL.Nat8) })),
    })],
    query: true,
  },
} as const satisfies Record<string, { arg: IDL.Type | null; ret: readonly IDL.Type[]; query?: true }>;

/** Service definition for Actor.createActor against aaaaa-aa. */
export const managementIdlFactory: IDL.InterfaceFactory = () =>
  IDL.Service(Object.fromEntries(Object.entries(MANAGEMENT_METHODS).map(([name, m]) => [
    name,
    IDL.Func(m.arg ? [m.arg] : [], [...m.ret], 'query' in m ? ['query'] : []),
  ])));

// The management canister (aaaaa-aa) as far as deploying and running canisters
// on the devnet needs: provisional creation, install_code in all modes (raw or
// gzipped wasm, or chunked), settings, status, start/stop/delete, raw_rand, and
// fetch_canister_logs, which a replica answers only as a query.
import { randomBytes } from 'node:crypto';
import { ReplicaRejectCode } from '@dfinity/agent';
import { IDL } from '@dfinity/candid';
import { MANAGEMENT_METHODS } from '../common/management_idl.ts';
import { FEES, scale } from '../common/cycles.ts';
import { Principal } from '@dfinity/principal';
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils';
import type { Canister, InstallMode } from './canister.ts';
import { assertSafeToDecode } from './candid_guard.ts';
import type { LogFilter } from './canister_log.ts';
import { DEFAULT_SETTINGS, updateSettings, visibleTo, type Settings, type SettingsArg } from './canister_settings.ts';
import { RejectError } from './errors.ts';
import type { CanisterRegistry } from './registry.ts';

/** Where the call context of a management call began: a user, a canister, or the system. */
export type CallContextOrigin = 'ingress' | 'canister' | 'system';

const DEFAULT_CYCLES = 100_000_000_000_000n;
const CHUNK_MAX_BYTES = 1024 * 1024;
const CHUNK_STORE_MAX = 100;
const WASM_MAX_BYTES = 100 * 1024 * 1024;

type MethodName = keyof typeof MANAGEMENT_METHODS;

type Arg = Record<string, unknown>;
type ModeArg = { install: null } | { reinstall: null } | { upgrade: unknown };

function modeOf(m: ModeArg): InstallMode {
  return 'install' in m ? 'install' : 'reinstall' in m ? 'reinstall' : 'upgrade';
}

export class ManagementCanister {
  constructor(private readonly canisters: CanisterRegistry, private readonly log: (line: string) => void) {}

  /** The canister a call is about, for checking it against the URL's effective canister id. */
  target(method: string, arg: Uint8Array): Principal | null {
    const m = MANAGEMENT_METHODS[method as MethodName];
    if (!m || !m.arg) return null;
    try {
      assertSafeToDecode(arg);
      const [decoded] = IDL.decode([m.arg], arg) as unknown as Arg[];
      const id = decoded.canister_id ?? decoded.target_canister;
      return id instanceof Principal ? id : null;
    } catch {
      return null;
    }
  }

  handle(caller: Principal, method: string, argBytes: Uint8Array, origin: CallContextOrigin, time: bigint): Uint8Array {
    const m = MANAGEMENT_METHODS[method as MethodName];
    if (!m) throw new RejectError(ReplicaRejectCode.DestinationInvalid, 'IC0536', `Management canister has no method '${method}' on the devnet`);
    if ('query' in m) throw new RejectError(ReplicaRejectCode.CanisterReject, 'IC0406', `${method} API is only accessible in non-replicated mode`);
    const result = this.dispatch(method as Exclude<MethodName, 'fetch_canister_logs'>, caller, decodeArg(method as MethodName, argBytes), origin, time);
    return new Uint8Array(IDL.encode([...m.ret], result));
  }

  /** A query to the management canister: fetch_canister_logs is the one method that answers. */
  query(caller: Principal, method: string, argBytes: Uint8Array): Uint8Array {
    const m = MANAGEMENT_METHODS.fetch_canister_logs;
    if (method !== 'fetch_canister_logs') throw new RejectError(ReplicaRejectCode.CanisterError, 'IC0536', `Query method ${method} not found.`);
    const arg = decodeArg(method, argBytes);
    const c = this.canisters.get(arg.canister_id as Principal);
    if (!visibleTo(c.settings.logVisibility, caller, c.isController(caller.toUint8Array()))) {
      throw new RejectError(ReplicaRejectCode.CanisterReject, 'IC0406', `Caller ${caller.toText()} is not allowed to query ic00 method fetch_canister_logs`);
    }
    const records = c.logRecords((arg.filter as [] | [LogFilter])[0]);
    return new Uint8Array(IDL.encode([...m.ret], [{
      canister_log_records: records.map((r) => ({ idx: r.idx, timestamp_nanos: r.timestampNanos, content: r.content })),
    }]));
  }

  private dispatch(method: Exclude<MethodName, 'fetch_canister_logs'>, caller: Principal, arg: Arg, origin: CallContextOrigin, time: bigint): unknown[] {
    switch (method) {
      case 'provisional_create_canister_with_cycles': {
        const { controllers = [caller], ...rest } = checkedSettings((arg.settings as Arg[])[0] ?? {}, DEFAULT_SETTINGS);
        const amount = (arg.amount as bigint[])[0] ?? DEFAULT_CYCLES;
        // As create_canister on mainnet, the fee comes out of the new canister's cycles.
        const fee = scale(FEES.canisterCreation, this.canisters.options.subnetSize);
        if (amount < fee) {
          throw new RejectError(ReplicaRejectCode.CanisterReject, 'IC0406', `Creating a canister requires a fee of ${fee} that is deducted from the canister's initial balance but only ${amount} cycles were received with the create_canister request.`);
        }
        const c = this.canisters.create((arg.specified_id as Principal[])[0], controllers, amount - fee, time);
        c.updateSettings(rest, false);
        this.log(`created canister ${c.id.toText()}`);
        return [{ canister_id: c.id }];
      }
      case 'provisional_top_up_canister': {
        this.canisters.get(arg.canister_id as Principal).addCycles(arg.amount as bigint);
        return [];
      }
      case 'raw_rand': {
        if (origin === 'ingress') throw new RejectError(ReplicaRejectCode.CanisterReject, 'IC0406', 'raw_rand can only be called by canisters');
        return [new Uint8Array(randomBytes(32))];
      }
    }
    if (method === 'canister_status') {
      const c = this.canisters.get(arg.canister_id as Principal);
      // status_visibility may let others than the controllers read it.
      if (!visibleTo(c.settings.statusVisibility, caller, c.isController(caller.toUint8Array()))) this.controlled(caller, c.id);
      if (c.chargeStorage(time)) c.save();
      return [this.status(c)];
    }
    const c = this.controlled(caller, (arg.canister_id ?? arg.target_canister) as Principal);
    switch (method) {
      case 'install_code':
        this.install(c, modeOf(arg.mode as ModeArg), arg.wasm_module as Uint8Array, arg.arg as Uint8Array, caller, time);
        return [];
      case 'install_chunked_code': {
        const store = (arg.store_canister as Principal[])[0];
        const source = store ? this.controlled(caller, store) : c;
        const parts = (arg.chunk_hashes_list as { hash: Uint8Array }[]).map(({ hash }) => {
          const chunk = source.chunkStore.get(hash);
          if (!chunk) throw new RejectError(ReplicaRejectCode.CanisterError, 'IC0539', `Chunk ${bytesToHex(hash)} is not in the chunk store of ${source.id.toText()}`);
          return chunk;
        });
        const wasm = concatBytes(...parts);
        if (bytesToHex(sha256(wasm)) !== bytesToHex(arg.wasm_module_hash as Uint8Array)) {
          throw new RejectError(ReplicaRejectCode.CanisterError, 'IC0539', 'Wasm module hash does not match the hash of the assembled chunks');
        }
        this.install(c, modeOf(arg.mode as ModeArg), wasm, arg.arg as Uint8Array, caller, time);
        return [];
      }
      case 'upload_chunk': {
        const chunk = arg.chunk as Uint8Array;
        if (chunk.length > CHUNK_MAX_BYTES) throw new RejectError(ReplicaRejectCode.CanisterError, 'IC0504', `Chunk of ${chunk.length} bytes exceeds the ${CHUNK_MAX_BYTES}-byte limit`);
        if (c.chunkStore.size >= CHUNK_STORE_MAX) throw new RejectError(ReplicaRejectCode.CanisterError, 'IC0504', `The chunk store of ${c.id.toText()} is full (${CHUNK_STORE_MAX} chunks)`);
        return [{ hash: c.chunkStore.put(chunk) }];
      }
      case 'clear_chunk_store':
        c.chunkStore.clear();
        return [];
      case 'stored_chunks':
        return [c.chunkStore.hashes().map((h) => ({ hash: hexToBytes(h) }))];
      case 'uninstall_code':
        c.uninstall();
        return [];
      case 'update_settings': {
        c.updateSettings(checkedSettings(arg.settings as Arg, c.settings), true);
        return [];
      }
      case 'start_canister':
        c.setStatus('running');
        return [];
      case 'stop_canister':
        c.setStatus('stopped');
        return [];
      case 'delete_canister':
        if (c.status !== 'stopped') throw new RejectError(ReplicaRejectCode.CanisterError, 'IC0510', `Canister ${c.id.toText()} must be stopped before it is deleted.`);
        this.canisters.delete(c);
        return [];
    }
  }

  private controlled(caller: Principal, id: Principal): Canister {
    const c = this.canisters.get(id);
    if (!c.isController(caller.toUint8Array())) {
      throw new RejectError(ReplicaRejectCode.CanisterError, 'IC0512', `Only the controllers of the canister ${id.toText()} can control it.\nCanister's controllers: ${c.controllers.map((p) => p.toText()).join(' ')}\nSender's ID: ${caller.toText()}`);
    }
    return c;
  }

  private install(c: Canister, mode: InstallMode, wasm: Uint8Array, arg: Uint8Array, caller: Principal, time: bigint): void {
    if (wasm.length > WASM_MAX_BYTES) throw new RejectError(ReplicaRejectCode.CanisterError, 'IC0505', `Wasm module of ${wasm.length} bytes is too large`);
    c.install(mode, wasm, arg, caller.toUint8Array(), time);
    this.log(`${mode === 'upgrade' ? 'upgraded' : 'installed'} code in canister ${c.id.toText()} (${mode})`);
  }

  private status(c: Canister) {
    const hash = c.moduleHash;
    const nat = (n: number): bigint => BigInt(n);
    const memory = c.memoryUsage();
    const s = c.settings;
    return {
      status: { [c.status]: null },
      ready_for_migration: false,
      version: c.version(),
      settings: {
        controllers: c.controllers,
        compute_allocation: s.computeAllocation,
        memory_allocation: s.memoryAllocation,
        freezing_threshold: c.freezingThreshold,
        reserved_cycles_limit: s.reservedCyclesLimit,
        minimum_incoming_canister_call_cycles: s.minimumIncomingCanisterCallCycles,
        log_visibility: s.logVisibility,
        log_memory_limit: s.logMemoryLimit,
        snapshot_visibility: s.snapshotVisibility,
        status_visibility: s.statusVisibility,
        wasm_memory_limit: s.wasmMemoryLimit,
        wasm_memory_threshold: s.wasmMemoryThreshold,
        environment_variables: s.environmentVariables,
      },
      module_hash: hash ? [hash] : [],
      memory_size: nat(memory.total),
      memory_metrics: {
        wasm_memory_size: nat(memory.wasm),
        stable_memory_size: nat(memory.stable),
        global_memory_size: nat(memory.globals),
        wasm_binary_size: nat(memory.binary),
        custom_sections_size: nat(memory.customSections),
        canister_history_size: 0n,
        wasm_chunk_store_size: nat(memory.chunkStore),
        // The devnet keeps no canister history and takes no snapshots.
        snapshots_size: 0n,
        log_memory_store_size: nat(c.logBytes),
      },
      cycles: c.balance(),
      reserved_cycles: 0n,
      idle_cycles_burned_per_day: c.idleBurnPerDay(),
      query_stats: { num_calls_total: 0n, num_instructions_total: 0n, request_payload_bytes_total: 0n, response_payload_bytes_total: 0n },
    };
  }
}

/** A method's argument, or the reject a replica gives for one that does not decode. */
function decodeArg(method: MethodName, bytes: Uint8Array): Arg {
  const m = MANAGEMENT_METHODS[method];
  if (!m.arg) return {};
  try {
    assertSafeToDecode(bytes);
    return (IDL.decode([m.arg], bytes) as unknown as Arg[])[0];
  } catch (e) {
    throw new RejectError(ReplicaRejectCode.CanisterReject, 'IC0406', `Error decoding candid for ${method}: ${(e as Error).message.split('\n')[0]}`);
  }
}

/**
 * A settings argument (of create or update_settings) checked in full against
 * the current settings before anything changes, as on a replica.
 */
function checkedSettings(arg: Arg, current: Settings): { controllers?: Principal[]; freezingThreshold?: bigint; settings: Settings } {
  const controllers = (arg.controllers as Principal[][] | undefined)?.[0];
  if (controllers && controllers.length > 10) throw new RejectError(ReplicaRejectCode.CanisterReject, 'IC0406', 'A canister can have at most 10 controllers');
  return {
    controllers,
    freezingThreshold: (arg.freezing_threshold as bigint[] | undefined)?.[0],
    settings: updateSettings(current, arg as SettingsArg),
  };
}

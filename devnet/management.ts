// The management canister (aaaaa-aa) as far as deploying and running canisters
// on the devnet needs: provisional creation, install_code in all modes (raw or
// gzipped wasm, or chunked), settings, status, start/stop/delete, raw_rand.
import { randomBytes } from 'node:crypto';
import { ReplicaRejectCode } from '@dfinity/agent';
import { IDL } from '@dfinity/candid';
import { MANAGEMENT_METHODS } from '../common/management_idl.ts';
import { FEES, scale } from '../common/cycles.ts';
import { Principal } from '@dfinity/principal';
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils';
import type { Canister, InstallMode } from './canister.ts';
import { assertNoZeroSizedVectors } from './candid_guard.ts';
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
      assertNoZeroSizedVectors(arg);
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
    let arg: Arg = {};
    if (m.arg) {
      try {
        assertNoZeroSizedVectors(argBytes);
        [arg] = IDL.decode([m.arg], argBytes) as unknown as Arg[];
      } catch (e) {
        throw new RejectError(ReplicaRejectCode.CanisterReject, 'IC0406', `Error decoding candid for ${method}: ${(e as Error).message}`);
      }
    }
    const result = this.dispatch(method as MethodName, caller, arg, origin, time);
    return new Uint8Array(IDL.encode([...m.ret], result));
  }

  /** A query to the management canister: only fetch_canister_logs answers as one. */
  query(caller: Principal, method: string, argBytes: Uint8Array, time: bigint): Uint8Array {
    void caller; void method; void argBytes; void time;
    throw new RejectError(ReplicaRejectCode.DestinationInvalid, 'IC0301', `Canister ${Principal.managementCanister().toText()} not found`);
  }

  private dispatch(method: MethodName, caller: Principal, arg: Arg, origin: CallContextOrigin, time: bigint): unknown[] {
    switch (method) {
      case 'provisional_create_canister_with_cycles': {
        const settings = (arg.settings as Arg[])[0];
        const controllers = (settings?.controllers as Principal[][] | undefined)?.[0] ?? [caller];
        const amount = (arg.amount as bigint[])[0] ?? DEFAULT_CYCLES;
        // As create_canister on mainnet, the fee comes out of the new canister's cycles.
        const fee = scale(FEES.canisterCreation, this.canisters.options.subnetSize);
        if (amount < fee) {
          throw new RejectError(ReplicaRejectCode.CanisterReject, 'IC0406', `Creating a canister requires a fee of ${fee} that is deducted from the canister's initial balance but only ${amount} cycles were received with the create_canister request.`);
        }
        const { id } = this.canisters.create((arg.specified_id as Principal[])[0], controllers, amount - fee, time);
        this.log(`created canister ${id.toText()}`);
        return [{ canister_id: id }];
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
        const settings = arg.settings as Arg;
        const controllers = (settings.controllers as Principal[][])[0];
        if (controllers) {
          if (controllers.length > 10) throw new RejectError(ReplicaRejectCode.CanisterReject, 'IC0406', 'A canister can have at most 10 controllers');
          c.setControllers(controllers);
        }
        const freezing = (settings.freezing_threshold as bigint[] | undefined)?.[0];
        if (freezing !== undefined) c.setFreezingThreshold(freezing);
        return [];
      }
      case 'canister_status':
        if (c.chargeStorage(time)) c.save();
        return [this.status(c)];
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
    return {
      status: { [c.status]: null },
      ready_for_migration: false,
      version: c.version(),
      settings: {
        controllers: c.controllers,
        compute_allocation: 0n,
        memory_allocation: 0n,
        freezing_threshold: c.freezingThreshold,
        reserved_cycles_limit: 5_000_000_000_000n,
        log_visibility: { controllers: null },
        wasm_memory_limit: 3n * 1024n ** 3n,
        wasm_memory_threshold: 0n,
        environment_variables: [],
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
        snapshots_size: 0n,
      },
      cycles: c.balance(),
      reserved_cycles: 0n,
      idle_cycles_burned_per_day: c.idleBurnPerDay(),
      query_stats: { num_calls_total: 0n, num_instructions_total: 0n, request_payload_bytes_total: 0n, response_payload_bytes_total: 0n },
    };
  }
}

// The IC management canister (aaaaa-aa) as icboot calls it: creating and
// installing the canister (deploy) and reading what it holds and burns (status).
import { Actor } from '@dfinity/agent';
import { Principal } from '@dfinity/principal';
import { freezingThresholdFromBurn } from '../common/cycles.ts';
import { managementIdlFactory } from '../common/management_idl.ts';
import { userError, type Connection } from './canister.ts';

/** The part of canister_status icboot reads. Only controllers may call it (others get NotControllerError). */
export interface CanisterStatusResult {
  module_hash: [] | [Uint8Array];
  memory_size: bigint;
  cycles: bigint;
  idle_cycles_burned_per_day: bigint;
  settings: { freezing_threshold: bigint };
}

export interface Management {
  provisional_create_canister_with_cycles(a: { amount: []; settings: []; specified_id: []; sender_canister_version: [] }): Promise<{ canister_id: Principal }>;
  canister_status(a: { canister_id: Principal }): Promise<CanisterStatusResult>;
  install_code(a: {
    mode: { install: null } | { reinstall: null } | { upgrade: [] };
    canister_id: Principal; wasm_module: Uint8Array; arg: Uint8Array; sender_canister_version: [];
  }): Promise<void>;
}

/** The management canister, addressed through `effective` (the canister a call is about routes it to its subnet). */
export function managementCanister(c: Connection, effective: Principal): Management {
  return Actor.createActor<Management>(managementIdlFactory, {
    agent: c.agent, canisterId: Principal.managementCanister(), effectiveCanisterId: effective,
  });
}

/** A canister's memory and cycles, and how long its balance lasts idle. */
export interface CanisterFunds {
  memoryBytes: bigint;
  cycles: bigint;
  burnPerDay: bigint;
  /** The balance at which the canister freezes (runs no updates, answers no queries). */
  freezingThreshold: bigint;
  /** Whole days the balance lasts idle before the canister freezes; null when it burns nothing. */
  idleDays: bigint | null;
}

export function canisterFunds(s: CanisterStatusResult): CanisterFunds {
  const freezingThreshold = freezingThresholdFromBurn(s.idle_cycles_burned_per_day, s.settings.freezing_threshold);
  const spare = s.cycles > freezingThreshold ? s.cycles - freezingThreshold : 0n;
  return {
    memoryBytes: s.memory_size,
    cycles: s.cycles,
    burnPerDay: s.idle_cycles_burned_per_day,
    freezingThreshold,
    idleDays: s.idle_cycles_burned_per_day > 0n ? spare / s.idle_cycles_burned_per_day : null,
  };
}

/** canister_status of `id`, read as funds; a caller that is not a controller gets NotControllerError. */
export async function readCanisterFunds(c: Connection, id: Principal): Promise<CanisterFunds> {
  try {
    return canisterFunds(await managementCanister(c, id).canister_status({ canister_id: id }));
  } catch (e) {
    throw userError(e, { host: c.network.host, requestTimeoutMs: c.requestTimeoutMs, canisterId: id });
  }
}

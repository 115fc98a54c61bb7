// The test canister: built from test/fixtures with azle, installed through the
// management canister with a plain agent, and its Candid interface.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Actor, HttpAgent, type ActorSubclass, type Identity } from '@dfinity/agent';
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { buildAzleCanister } from '../../canister/build.ts';
import { managementIdlFactory } from '../../common/management_idl.ts';
import { REPO } from '../../lab/devnet.ts';

export interface TestCanister {
  increment(): Promise<bigint>;
  count(): Promise<bigint>;
  incrementInQuery(): Promise<bigint>;
  put(key: string, value: Uint8Array): Promise<void>;
  get(key: string): Promise<[Uint8Array] | []>;
  putThenTrap(key: string): Promise<void>;
  certify(data: Uint8Array): Promise<void>;
  certificate(): Promise<[Uint8Array] | []>;
  blobQuery(n: number): Promise<Uint8Array>;
  blobUpdate(n: number): Promise<Uint8Array>;
  incrementAfterSelfCall(): Promise<bigint>;
  scheduleTick(): Promise<void>;
  tickCount(): Promise<bigint>;
  lifecycle(): Promise<{ installs: bigint; upgrades: bigint }>;
}

export const testCanisterIdl: IDL.InterfaceFactory = ({ IDL: I }) => I.Service({
  increment: I.Func([], [I.Nat64], []),
  count: I.Func([], [I.Nat64], ['query']),
  incrementInQuery: I.Func([], [I.Nat64], ['query']),
  put: I.Func([I.Text, I.Vec(I.Nat8)], [], []),
  get: I.Func([I.Text], [I.Opt(I.Vec(I.Nat8))], ['query']),
  putThenTrap: I.Func([I.Text], [], []),
  certify: I.Func([I.Vec(I.Nat8)], [], []),
  certificate: I.Func([], [I.Opt(I.Vec(I.Nat8))], ['query']),
  blobQuery: I.Func([I.Nat32], [I.Vec(I.Nat8)], ['query']),
  blobUpdate: I.Func([I.Nat32], [I.Vec(I.Nat8)], []),
  incrementAfterSelfCall: I.Func([], [I.Nat64], []),
  scheduleTick: I.Func([], [], []),
  tickCount: I.Func([], [I.Nat64], ['query']),
  lifecycle: I.Func([], [I.Record({ installs: I.Nat64, upgrades: I.Nat64 })], ['query']),
});

export async function testCanisterWasm(): Promise<Uint8Array> {
  const { wasm } = await buildAzleCanister(join(REPO, 'test', 'fixtures', 'testcanister'), 'testcanister');
  return new Uint8Array(gzipSync(readFileSync(wasm)));
}

export async function agentFor(url: string, identity?: Identity, retryTimes?: number): Promise<HttpAgent> {
  return HttpAgent.create({ host: url, identity, shouldFetchRootKey: true, retryTimes });
}

export interface ManagementActor {
  provisional_create_canister_with_cycles(a: {
    amount: [] | [bigint]; settings: []; specified_id: [] | [Principal]; sender_canister_version: [];
  }): Promise<{ canister_id: Principal }>;
  install_code(a: {
    mode: { install: null } | { reinstall: null } | { upgrade: [] };
    canister_id: Principal; wasm_module: Uint8Array; arg: Uint8Array; sender_canister_version: [];
  }): Promise<void>;
  upload_chunk(a: { canister_id: Principal; chunk: Uint8Array }): Promise<{ hash: Uint8Array }>;
  stored_chunks(a: { canister_id: Principal }): Promise<{ hash: Uint8Array }[]>;
  install_chunked_code(a: {
    mode: { install: null }; target_canister: Principal; store_canister: []; chunk_hashes_list: { hash: Uint8Array }[];
    wasm_module_hash: Uint8Array; arg: Uint8Array; sender_canister_version: [];
  }): Promise<void>;
  canister_status(a: { canister_id: Principal }): Promise<{
    module_hash: [] | [Uint8Array];
    settings: { controllers: Principal[] };
    memory_metrics: { wasm_memory_size: bigint; stable_memory_size: bigint };
  }>;
}

export function management(agent: HttpAgent, effective: Principal): ActorSubclass<ManagementActor> {
  return Actor.createActor<ManagementActor>(managementIdlFactory, {
    agent,
    canisterId: Principal.managementCanister(),
    effectiveCanisterId: effective,
  });
}

export async function createCanister(agent: HttpAgent): Promise<Principal> {
  // Creation may name any effective canister id; this is the first of the devnet's range.
  const { canister_id } = await management(agent, Principal.fromText('bkyz2-fmaaa-aaaaa-qaaaq-cai'))
    .provisional_create_canister_with_cycles({ amount: [], settings: [], specified_id: [], sender_canister_version: [] });
  return canister_id;
}

export async function installTestCanister(agent: HttpAgent, mode: 'install' | 'reinstall' | 'upgrade', id: Principal): Promise<void> {
  await management(agent, id).install_code({
    mode: mode === 'upgrade' ? { upgrade: [] } : mode === 'install' ? { install: null } : { reinstall: null },
    canister_id: id,
    wasm_module: await testCanisterWasm(),
    arg: new Uint8Array(IDL.encode([], [])),
    sender_canister_version: [],
  });
}

export function testCanister(agent: HttpAgent, id: Principal): ActorSubclass<TestCanister> {
  return Actor.createActor<TestCanister>(testCanisterIdl, { agent, canisterId: id });
}

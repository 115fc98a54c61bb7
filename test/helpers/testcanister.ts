// The test canister: built from test/fixtures with azle, installed through the
// management canister with a plain agent; its Candid interface is the fixture's own.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Actor, HttpAgent, type ActorSubclass, type Identity } from '@dfinity/agent';
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { buildAzleCanister } from '../../canister/build.ts';
import { managementIdlFactory } from '../../common/management_idl.ts';
import { REPO, startDevnetProcess, type RunningDevnet } from '../../lab/devnet.ts';
import { testCanisterMethods, type TestCanister } from '../fixtures/testcanister/src/interface.ts';

export type { TestCanister };

export const testCanisterIdl: IDL.InterfaceFactory = () => IDL.Service(testCanisterMethods);

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
    memory_size: bigint;
    cycles: bigint;
    idle_cycles_burned_per_day: bigint;
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

/** A devnet process (started with `devnetArgs`) holding a freshly installed test canister that `owner` controls. */
export interface DevnetWithTestCanister {
  devnet: RunningDevnet;
  agent: HttpAgent;
  id: Principal;
  canister: ActorSubclass<TestCanister>;
  /** Stops the devnet and removes its state. */
  stop(): Promise<void>;
}

export async function devnetWithTestCanister(owner: Identity, devnetArgs: string[] = []): Promise<DevnetWithTestCanister> {
  const devnet = await startDevnetProcess(undefined, 0, devnetArgs);
  const agent = await agentFor(devnet.url, owner);
  const id = await createCanister(agent);
  await installTestCanister(agent, 'install', id);
  return {
    devnet, agent, id, canister: testCanister(agent, id),
    async stop() {
      await devnet.stop();
      rmSync(devnet.stateDir, { recursive: true, force: true });
    },
  };
}

// `icboot deploy`: build the canister when its wasm is stale, create it on the
// first deploy (local networks), install or upgrade it, and record its id.
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex } from '@noble/hashes/utils';
import { icbootModule } from '../canister/icboot_module.ts';
import { findCanisterId, recordCanisterId, userError, type Connection } from './canister.ts';
import { UserError } from './errors.ts';
import { managementCanister } from './management.ts';

export type DeployMode = 'auto' | 'install' | 'upgrade' | 'reinstall';

/** Any id inside a local replica's canister range serves as effective id for creation. */
const LOCAL_EFFECTIVE_ID = Principal.fromText('bkyz2-fmaaa-aaaaa-qaaaq-cai');
/** A gzipped module this small fits one install_code call under the 2 MiB ingress limit. */
const SINGLE_CALL_WASM_BYTES = 1_900_000;

export interface DeployResult {
  canisterId: Principal;
  action: 'installed' | 'upgraded' | 'reinstalled' | 'unchanged';
  created: boolean;
  built: boolean;
}

export async function deploy(c: Connection, mode: DeployMode, canisterFlag?: string, log: (line: string) => void = () => {}): Promise<DeployResult> {
  // Before the build: an unreadable record stops deploy at once, and is never rewritten.
  let id = findCanisterId(c.network, canisterFlag);
  const { module, wasm, built } = await icbootModule();
  if (built) log(`built ${wasm}`);
  if (module.length > SINGLE_CALL_WASM_BYTES) throw new UserError(`the gzipped canister module is ${module.length} bytes, too large for one install call`);
  const guard = async <T>(p: Promise<T>, canisterId?: Principal): Promise<T> => {
    try {
      return await p;
    } catch (e) {
      throw userError(e, { host: c.network.host, requestTimeoutMs: c.requestTimeoutMs, canisterId });
    }
  };

  let created = false;
  if (!id) {
    if (!c.network.fetchRootKey) {
      throw new UserError('creating canisters on mainnet needs cycles: create one (dfx canister create icboot --network ic, or the NNS dapp) and pass --canister ID');
    }
    id = (await guard(managementCanister(c, LOCAL_EFFECTIVE_ID).provisional_create_canister_with_cycles({
      amount: [], settings: [], specified_id: [], sender_canister_version: [],
    }))).canister_id;
    created = true;
    log(`created canister ${id.toText()} on ${c.network.name}`);
  }
  recordCanisterId(c.network, id);

  const status = await guard(managementCanister(c, id).canister_status({ canister_id: id }), id);
  const installed = status.module_hash[0];
  const effective = mode === 'auto' ? (installed ? 'upgrade' : 'install') : mode;
  if (mode === 'auto' && installed && bytesToHex(installed) === bytesToHex(sha256(module))) {
    return { canisterId: id, action: 'unchanged', created, built };
  }
  await guard(managementCanister(c, id).install_code({
    mode: effective === 'upgrade' ? { upgrade: [] } : effective === 'install' ? { install: null } : { reinstall: null },
    canister_id: id,
    wasm_module: module,
    arg: new Uint8Array(IDL.encode([], [])),
    sender_canister_version: [],
  }), id);
  const action = effective === 'upgrade' ? 'upgraded' : effective === 'install' ? 'installed' : 'reinstalled';
  return { canisterId: id, action, created, built };
}

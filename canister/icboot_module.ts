// The module both deploy routes install: the azle build of the icboot canister,
// gzipped. `icboot deploy` and `icp deploy` install these same bytes, so either
// sees the other's install as up to date (module hashes compare equal), and the
// module fits one install_code call instead of going through the chunk store.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { azleWasmPath, buildAzleCanister } from './build.ts';

/** The repository root, which holds dfx.json and the canister sources. */
export const PROJECT_DIR = fileURLToPath(new URL('..', import.meta.url));

export interface IcbootModule {
  module: Uint8Array;
  /** The uncompressed wasm azle wrote. */
  wasm: string;
  /** The Candid interface, as embedded in the module's `candid:service` metadata. */
  candid: string;
  built: boolean;
}

/** Where azle writes the icboot canister's wasm (canister/build.ts). */
export const ICBOOT_WASM = azleWasmPath(PROJECT_DIR, 'icboot');

/** The module installed for a built wasm: gzipped, deterministic (same wasm, same bytes). */
export function moduleOf(wasm: Uint8Array): Uint8Array {
  return new Uint8Array(gzipSync(wasm, { level: 9 }));
}

/** Builds the canister when its wasm is stale, and gzips it. */
export async function icbootModule(): Promise<IcbootModule> {
  const { wasm, candid, built } = await buildAzleCanister(PROJECT_DIR, 'icboot');
  return { module: moduleOf(readFileSync(wasm)), wasm, candid, built };
}

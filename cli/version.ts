// `icboot --version`: what an operator quotes in a bug report or checks a
// deployed canister against: the package version, the SHA-256 of the module
// `icboot deploy` installs (the module hash `dfx canister info` and
// canister_status report once it is installed), and the Node version.
// It reads what is there and never builds: answering takes no time and
// writes nothing, even in a read-only install.
import { readFileSync } from 'node:fs';
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex } from '@noble/hashes/utils';
import { UserError } from '../client/errors.ts';
import { ICBOOT_WASM, moduleOf } from '../canister/icboot_module.ts';

export interface Versions {
  icboot: string;
  /** SHA-256 of the gzipped module deploy installs, hex; null before the first build. */
  moduleSha256: string | null;
  node: string;
}

/**
 * The hash of the module built from `wasm`, gzipped as icbootModule() does,
 * or null when it was never built. It is the last build's: deploy rebuilds
 * first when the sources changed since.
 */
export function moduleSha256(wasm: string): string | null {
  let bytes: Buffer;
  try {
    bytes = readFileSync(wasm);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new UserError(`cannot read ${wasm} (${code ?? (e as Error).message})`);
  }
  return bytesToHex(sha256(moduleOf(bytes)));
}

export function versions(): Versions {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return { icboot: pkg.version, moduleSha256: moduleSha256(ICBOOT_WASM), node: process.version };
}

export function versionText(v: Versions): string {
  const module = v.moduleSha256 === null ? 'canister module: not built (icboot deploy builds it)' : `canister module sha256 ${v.moduleSha256}`;
  return `icboot ${v.icboot}\n${module}\nnode ${v.node}\n`;
}

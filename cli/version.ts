// `icboot --version`: what an operator quotes in a bug report or checks a
// deployed canister against: the package version, the SHA-256 of the module
// `icboot deploy` installs (the module hash `dfx canister info` and
// canister_status report once it is installed), and the Node version.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex } from '@noble/hashes/utils';
import { PROJECT_DIR, icbootModule } from '../canister/icboot_module.ts';

export interface Versions {
  icboot: string;
  /** SHA-256 of the gzipped module deploy installs, hex. */
  moduleSha256: string;
  node: string;
}

/**
 * Builds the canister first when its sources changed since the last build,
 * as deploy would, so the hash is the one deploy would install; `log` hears
 * of a build, since it takes a while.
 */
export async function versions(log: (line: string) => void): Promise<Versions> {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  const m = await icbootModule();
  if (m.built) log(`built ${relative(PROJECT_DIR, m.wasm)} (the canister sources had changed)`);
  return { icboot: pkg.version, moduleSha256: bytesToHex(sha256(m.module)), node: process.version };
}

export function versionText(v: Versions): string {
  return `icboot ${v.icboot}\ncanister module sha256 ${v.moduleSha256}\nnode ${v.node}\n`;
}

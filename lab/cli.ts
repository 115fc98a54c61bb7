// Runs the `icboot` command line as a user would, in a directory of its own
// and with its own config home (so identities and records stay in the test).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { Principal } from '@dfinity/principal';
import { connect, type Connection } from '../client/canister.ts';
import { ed25519Pem } from '../client/identity.ts';
import { REPO, tempDir } from './devnet.ts';
import { run, type Ran } from './process.ts';

export type CliResult = Ran;

export interface CliEnv {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** A network namespace to run in (see RunOptions). */
  netns?: string;
}

/** A working directory and config home with no dfx identities. */
export function cliEnv(devnetUrl: string): CliEnv {
  const home = tempDir('home');
  return {
    cwd: home,
    env: {
      ...process.env,
      HOME: home,
      XDG_CONFIG_HOME: join(home, '.config'),
      DFX_CONFIG_ROOT: join(home, 'nodfx'),
      ICBOOT_NETWORK: devnetUrl,
      ICBOOT_CANISTER: undefined,
    },
  };
}

export function icboot(args: string[], e: CliEnv, stdin?: string): Promise<CliResult> {
  return run(process.execPath, [join(REPO, 'cli', 'icboot.js'), ...args], { cwd: e.cwd, env: e.env, netns: e.netns, stdin });
}

/** Writes a fresh Ed25519 identity to a PEM file; returns its path and principal. */
export function newPem(): { path: string; principal: string } {
  const identity = Ed25519KeyIdentity.generate();
  const path = join(tempDir('pem'), 'key.pem');
  writeFileSync(path, ed25519Pem(new Uint8Array(identity.getKeyPair().secretKey).subarray(0, 32)));
  return { path, principal: identity.getPrincipal().toText() };
}

/** A canister deployed by `icboot deploy` from a config home of its own, and a connection as its controller. */
export interface Deployed {
  env: CliEnv;
  canisterId: Principal;
  owner: Connection;
}

export async function deployWithCli(devnetUrl: string, requestTimeoutMs?: number): Promise<Deployed> {
  const env = cliEnv(devnetUrl);
  const r = await icboot(['deploy'], env);
  if (r.code !== 0) throw new Error(`icboot deploy failed: ${r.stderr}`);
  const canisterId = Principal.fromText(r.stdout.toString().trim().split('\n').pop()!);
  const owner = await connect({ network: devnetUrl, pem: join(env.env.XDG_CONFIG_HOME!, 'icboot', 'identity.pem') }, undefined, requestTimeoutMs);
  return { env, canisterId, owner };
}

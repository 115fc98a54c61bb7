// Runs DFINITY's icp CLI (the devDependency @icp-sdk/icp-cli-linux-x64) as a
// user would, headless: its own ICP_HOME (identities, settings), no telemetry,
// no tty, no Rust backtraces in error output, and a deadline. A network
// namespace, when given, is where the program runs (so `local` can be a devnet
// on the default 127.0.0.1:4943 that no other test sees).
import { join } from 'node:path';
import { REPO, tempDir } from './devnet.ts';
import { run, type Ran } from './process.ts';

export const ICP_BIN = join(REPO, 'node_modules', '@icp-sdk', 'icp-cli-linux-x64', 'bin', 'icp');

export interface IcpEnv {
  /** The project directory (where icp.yaml is), or any directory for commands that need none. */
  cwd: string;
  /** ICP_HOME: identities and settings; a fresh one knows only `anonymous`. */
  home: string;
  netns?: string;
}

export function icpEnv(cwd: string, netns?: string): IcpEnv {
  return { cwd, home: tempDir('icp-home'), netns };
}

/** `icp ARGS` in `e`, killed after `timeoutMs`. */
export function icp(args: string[], e: IcpEnv, timeoutMs = 120_000): Promise<Ran> {
  const env: NodeJS.ProcessEnv = { ...process.env, ICP_HOME: e.home, DO_NOT_TRACK: '1' };
  // Backtraces would bury the one-line error; ICP_ENVIRONMENT would pick another environment than the test names.
  delete env.RUST_BACKTRACE;
  delete env.ICP_ENVIRONMENT;
  return run(ICP_BIN, args, { cwd: e.cwd, env, netns: e.netns, timeoutMs });
}

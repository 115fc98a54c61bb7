// Runs DFINITY's icp CLI (the devDependency @icp-sdk/icp-cli-linux-x64) as a
// user would, headless: its own ICP_HOME (identities, settings), no telemetry,
// no tty, no Rust backtraces in error output, and a deadline. A network
// namespace, when given, is where the program runs (so `local` can be a devnet
// on the default 127.0.0.1:4943 that no other test sees).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO, tempDir } from './devnet.ts';

export const ICP_BIN = join(REPO, 'node_modules', '@icp-sdk', 'icp-cli-linux-x64', 'bin', 'icp');

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** `ip netns exec NETNS` runs the program (it execs, so the PID stays the program's). */
  netns?: string;
  timeoutMs?: number;
}

export class RunTimeout extends Error {}

/** Runs `command ARGS` with no stdin; killed and rejected with RunTimeout after the deadline. */
export function run(command: string, args: string[], o: RunOptions): Promise<Ran> {
  const [file, ...rest] = o.netns ? ['ip', 'netns', 'exec', o.netns, command, ...args] : [command, ...args];
  const timeoutMs = o.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const child = spawn(file, rest, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new RunTimeout(`${command} ${args.join(' ')}: no exit within ${timeoutMs / 1000} s\n${Buffer.concat(err).toString()}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

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

/** `icp ARGS` in `e`. */
export function icp(args: string[], e: IcpEnv, timeoutMs?: number): Promise<Ran> {
  const env: NodeJS.ProcessEnv = { ...process.env, ICP_HOME: e.home, DO_NOT_TRACK: '1' };
  // Backtraces would bury the one-line error; ICP_ENVIRONMENT would pick another environment than the test names.
  delete env.RUST_BACKTRACE;
  delete env.ICP_ENVIRONMENT;
  return run(ICP_BIN, args, { cwd: e.cwd, env, netns: e.netns, timeoutMs });
}

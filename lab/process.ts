// Runs command lines as a user would: a short one to its exit (run), or a
// long-running icboot process until the stdout lines that say it is ready
// (startUntil); stderr is kept for assertions and failure reports.
import { spawn, type ChildProcess } from 'node:child_process';
import { PollTimeout } from './poll.ts';

export interface Ran {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

export interface RunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdin?: string;
  /** `ip netns exec NETNS` runs the program (it execs, so the PID stays the program's). */
  netns?: string;
  /** Killed and rejected with PollTimeout after this long; no deadline when unset. */
  timeoutMs?: number;
}

/** Runs `command ARGS` to its exit. */
export function run(command: string, args: string[], o: RunOptions): Promise<Ran> {
  const [file, ...rest] = o.netns ? ['ip', 'netns', 'exec', o.netns, command, ...args] : [command, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(file, rest, { cwd: o.cwd, env: o.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = o.timeoutMs === undefined ? undefined : setTimeout(() => {
      child.kill('SIGKILL');
      reject(new PollTimeout(`${command} ${args.join(' ')}: no exit within ${o.timeoutMs! / 1000} s\n${Buffer.concat(err).toString()}`));
    }, o.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() });
    });
    child.stdin.end(o.stdin ?? '');
  });
}

export interface Started {
  process: ChildProcess;
  /** stderr, line by line, as it arrives. */
  logs: string[];
  /** One match per pattern asked for, from stdout. */
  matches: RegExpExecArray[];
  /** Sends `signal` (if still running) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startUntil(
  what: string,
  args: string[],
  ready: RegExp[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; prefix?: string[] } = {},
): Promise<Started> {
  // `prefix` runs node under another command that execs it (e.g. prlimit), keeping one PID.
  const [command, ...rest] = [...(opts.prefix ?? []), process.execPath, ...args];
  const child = spawn(command, rest, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  child.stderr!.on('data', (b: Buffer) => logs.push(...b.toString().split('\n').filter(Boolean)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    let out = '';
    // A process that never got ready is ours to end: reject only once it has gone, so none is left behind.
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const matches = ready.map((r) => r.exec(out));
      if (late || matches.some((m) => !m)) return;
      clearTimeout(timer);
      resolve({
        process: child,
        logs,
        matches: matches as RegExpExecArray[],
        stop: (signal = 'SIGTERM') => {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          return exited;
        },
      });
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      const log = logs.join('\n');
      reject(late ? new PollTimeout(`${what} did not start within ${timeoutMs / 1000} s:\n${log}`) : new Error(`${what} exited with ${code}:\n${log}`));
    });
  });
}

/** Sends `signal` to `child` unless it has ended; resolves once it has. */
export function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const ended = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  return ended;
}

// Runs `icboot devnet` as a child process, exactly as a user would, and waits
// for its "listening" line.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(REPO, 'cli', 'icboot.js');

export interface RunningDevnet {
  url: string;
  stateDir: string;
  process: ChildProcess;
  logs: string[];
  /** SIGTERM, and resolves with the exit code. */
  stop(): Promise<number | null>;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `icboot-${prefix}-`));
}

/** A port that was free a moment ago, for processes that must keep their address across restarts. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export function startDevnetProcess(stateDir = tempDir('devnet'), port = 0, extra: string[] = []): Promise<RunningDevnet> {
  const child = spawn(process.execPath, [BIN, 'devnet', '--port', String(port), '--state-dir', stateDir, ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  child.stderr!.on('data', (b: Buffer) => logs.push(b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`devnet did not start within 30 s:\n${logs.join('')}`)), 30_000);
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /devnet listening on (http:\/\/\S+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        url: m[1],
        stateDir,
        process: child,
        logs,
        stop: () => {
          if (child.exitCode === null) child.kill('SIGTERM');
          return exited;
        },
      });
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`devnet exited with ${code}:\n${logs.join('')}`));
    });
  });
}

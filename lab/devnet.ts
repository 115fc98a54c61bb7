// Runs `icboot devnet` as a child process, exactly as a user would, and waits
// for its "listening" line.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startUntil } from './process.ts';

export const REPO = fileURLToPath(new URL('..', import.meta.url));
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

export async function startDevnetProcess(stateDir = tempDir('devnet'), port = 0, extra: string[] = []): Promise<RunningDevnet> {
  const p = await startUntil('devnet', [BIN, 'devnet', '--port', String(port), '--state-dir', stateDir, ...extra], [/devnet listening on (http:\/\/\S+)/]);
  return { url: p.matches[0][1], stateDir, process: p.process, logs: p.logs, stop: () => p.stop() };
}

// A boot storm of command-line TFTP clients: `clients` of them start at once,
// each fetching the same files one after the other, as a machine fetches its
// kernel and then its initrd. The storm lasts from the first start to the last
// finish; every file received is then checked against its SHA-256, after the
// clock has stopped, so the hashing does not compete with the servers.
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PollTimeout } from './poll.ts';
import { run } from './process.ts';

/** The command line that fetches `file` from TFTP on 127.0.0.1:`port` into `to`. */
export type TftpClient = (port: number, file: string, to: string) => [string, string[]];

/** curl: lock-step with blksize and tsize, as PXE firmware does it, and a `timeout` option of its own (6 s), which servers honour. */
export const curl = (blksize: number): TftpClient => (port, file, to) =>
  ['curl', ['-sS', '--tftp-blksize', String(blksize), '-o', to, `tftp://127.0.0.1:${port}/${file}`]];

/** tftp-hpa's client: plain RFC 1350 (512-byte blocks, no options), so the server retransmits on its own timeout. */
export const tftpHpa: TftpClient = (port, file, to) => ['tftp', ['-m', 'binary', '127.0.0.1', String(port), '-c', 'get', file, to]];

/** atftp with RFC 7440 windowsize: `window` blocks per ACK. */
export const atftpWindowed = (blksize: number, window: number): TftpClient => (port, file, to) =>
  ['atftp', ['--option', `blksize ${blksize}`, '--option', `windowsize ${window}`, '-g', '-r', file, '-l', to, '127.0.0.1', String(port)]];

export interface ExpectedFile {
  /** Path on the server. */
  path: string;
  /** SHA-256 of its bytes, hex. */
  sha256: string;
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file).on('data', (b) => h.update(b)).on('error', reject).on('end', () => resolve(h.digest('hex')));
  });
}

/** `files` under `root` with their hashes, to check what the clients receive. */
export async function expectedFiles(root: string, files: string[]): Promise<ExpectedFile[]> {
  return Promise.all(files.map(async (path) => ({ path, sha256: await sha256File(join(root, path)) })));
}

export interface StormOptions {
  client: TftpClient;
  port: number;
  files: ExpectedFile[];
  clients: number;
  /** Scratch directory for what the clients receive (tmpfs keeps disk writes out of the timing); removed afterwards. */
  out: string;
  /** Deadline of each client's fetch of one file; past it the client is killed and the transfer counts as failed. */
  fetchTimeoutMs: number;
  /** Runs the clients in this network namespace. */
  netns?: string;
}

export interface TransferFailure {
  client: number;
  path: string;
  reason: string;
}

export interface StormResult {
  /** First start to last finish. */
  seconds: number;
  /** Transfers attempted: clients × files. */
  transfers: number;
  failures: TransferFailure[];
}

export async function storm(o: StormOptions): Promise<StormResult> {
  const failures: TransferFailure[] = [];
  const received = (client: number, i: number): string => join(o.out, `${client}-${i}`);
  mkdirSync(o.out, { recursive: true });
  try {
    const start = performance.now();
    await Promise.all(Array.from({ length: o.clients }, async (_, client) => {
      for (const [i, f] of o.files.entries()) {
        const [cmd, args] = o.client(o.port, f.path, received(client, i));
        try {
          const r = await run(cmd, args, { cwd: o.out, env: process.env, timeoutMs: o.fetchTimeoutMs, netns: o.netns });
          if (r.code !== 0) failures.push({ client, path: f.path, reason: `${cmd} exited with ${r.code}: ${r.stderr.trim().split('\n')[0]}` });
        } catch (e) {
          if (!(e instanceof PollTimeout)) throw e;
          failures.push({ client, path: f.path, reason: `${cmd} did not finish within ${o.fetchTimeoutMs / 1000} s` });
        }
      }
    }));
    const seconds = (performance.now() - start) / 1000;
    for (let client = 0; client < o.clients; client++) {
      for (const [i, f] of o.files.entries()) {
        if (failures.some((x) => x.client === client && x.path === f.path)) continue;
        const got = await sha256File(received(client, i)).catch((e: NodeJS.ErrnoException) => `unreadable (${e.code})`);
        if (got !== f.sha256) failures.push({ client, path: f.path, reason: `received bytes differ (SHA-256 ${got.slice(0, 16)}…)` });
      }
    }
    return { seconds, transfers: o.clients * o.files.length, failures };
  } finally {
    rmSync(o.out, { recursive: true, force: true });
  }
}

// Runs `icboot gateway` as a child process and TFTP clients against it.
import { execFile, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { parse, type Packet } from '../gateway/tftp/packet.ts';
import type { CliEnv } from './cli.ts';
import { REPO } from './devnet.ts';
import { startUntil } from './process.ts';

export interface RunningGateway {
  tftpPort: number;
  httpUrl: string;
  process: ChildProcess;
  logs: string[];
  stop(): Promise<void>;
}

export async function startGateway(env: CliEnv, args: string[], prefix?: string[]): Promise<RunningGateway> {
  const p = await startUntil('gateway', [join(REPO, 'cli', 'icboot.js'), 'gateway', '--tftp', '127.0.0.1:0', '--http', '127.0.0.1:0', ...args],
    [/tftp listening on 127\.0\.0\.1:(\d+)/, /http listening on (http:\S+)/], { cwd: env.cwd, env: env.env, prefix });
  return {
    tftpPort: Number(p.matches[0][1]), httpUrl: p.matches[1][1], process: p.process, logs: p.logs,
    stop: async () => {
      await p.stop();
    },
  };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], timeoutMs = 120_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? (err as unknown as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A bare TFTP peer: sends datagrams, collects parsed replies with their source port. */
export class RawClient {
  private readonly socket = createSocket('udp4');
  readonly received: { packet: Packet | null; port: number; raw: Buffer }[] = [];
  private waiters: (() => void)[] = [];

  async open(): Promise<this> {
    await new Promise<void>((r) => this.socket.bind(0, '127.0.0.1', () => r()));
    this.socket.on('message', (raw, rinfo) => {
      const p = parse(raw);
      this.received.push({ packet: p.ok ? p.packet : null, port: rinfo.port, raw });
      for (const w of this.waiters.splice(0)) w();
    });
    return this;
  }

  send(b: Uint8Array, port: number): void {
    this.socket.send(b, port, '127.0.0.1');
  }

  /** Waits until `n` packets have arrived in total (or the timeout passes). */
  async waitFor(n: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < n && Date.now() < deadline) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, deadline - Date.now());
        this.waiters.push(() => { clearTimeout(t); r(); });
      });
    }
  }

  close(): void {
    this.socket.close();
  }
}

// Runs `icboot gateway` as a child process and TFTP clients against it.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { parse, type Packet } from '../../gateway/tftp/packet.ts';
import type { CliEnv } from './cli.ts';
import { REPO } from './devnet.ts';

export interface RunningGateway {
  tftpPort: number;
  httpUrl: string;
  process: ChildProcess;
  logs: string[];
  stop(): Promise<void>;
}

export function startGateway(env: CliEnv, args: string[]): Promise<RunningGateway> {
  const child = spawn(process.execPath, [join(REPO, 'cli', 'icboot.js'), 'gateway', '--tftp', '127.0.0.1:0', '--http', '127.0.0.1:0', ...args], {
    cwd: env.cwd, env: env.env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  child.stderr!.on('data', (b: Buffer) => logs.push(...b.toString().split('\n').filter(Boolean)));
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${logs.join('\n')}`)), 30_000);
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const tftp = /tftp listening on 127\.0\.0\.1:(\d+)/.exec(out);
      const http = /http listening on (http:\S+)/.exec(out);
      if (!tftp || !http) return;
      clearTimeout(timer);
      resolve({
        tftpPort: Number(tftp[1]), httpUrl: http[1], process: child, logs,
        stop: async () => {
          if (child.exitCode === null) child.kill('SIGTERM');
          await exited;
        },
      });
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code}:\n${logs.join('\n')}`));
    });
  });
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

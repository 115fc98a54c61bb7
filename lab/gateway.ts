// Runs `icboot gateway` as a child process and TFTP clients against it.
import { execFile, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { OP, ack, parse, request, type Packet } from '../gateway/tftp/packet.ts';
import type { CliEnv } from './cli.ts';
import { REPO } from './devnet.ts';
import { PollTimeout, until } from './poll.ts';
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
  /** Called for each datagram as it arrives, e.g. to answer it at once. */
  onPacket: (p: Packet | null, port: number) => void = () => {};
  private waiters: (() => void)[] = [];

  async open(): Promise<this> {
    await new Promise<void>((r) => this.socket.bind(0, '127.0.0.1', () => r()));
    // A test that fails before close() must not keep the process alive.
    this.socket.unref();
    this.socket.on('message', (raw, rinfo) => {
      const p = parse(raw);
      this.received.push({ packet: p.ok ? p.packet : null, port: rinfo.port, raw });
      this.onPacket(p.ok ? p.packet : null, rinfo.port);
      for (const w of this.waiters.splice(0)) w();
    });
    return this;
  }

  send(b: Uint8Array, port: number): void {
    this.socket.send(b, port, '127.0.0.1');
  }

  /** Waits until `n` packets have arrived in total; throws PollTimeout once `timeoutMs` has passed without them. */
  async waitFor(n: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < n) {
      if (Date.now() >= deadline) {
        throw new PollTimeout(`TFTP client: ${this.received.length} of ${n} packets arrived within ${timeoutMs / 1000} s`);
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, deadline - Date.now());
        this.waiters.push(() => { clearTimeout(t); r(); });
      });
    }
  }

  /** The first packet (from index `from`) that `match` accepts, once it has arrived. */
  next(match: (p: Packet | null) => boolean, what: string, from = 0): Promise<{ packet: Packet | null; port: number; index: number }> {
    return until(() => {
      const i = this.received.findIndex((g, k) => k >= from && match(g.packet));
      return i < 0 ? null : { packet: this.received[i].packet, port: this.received[i].port, index: i };
    }, what, 20_000, 10);
  }

  close(): void {
    this.socket.close();
  }
}

/**
 * A lock-step TFTP read the test drives: it receives and ACKs until it holds
 * a given number of bytes and then pauses, as a slow client would, until
 * read() is called again.
 */
export class LockStep {
  readonly blocks: Buffer[] = [];
  /** Bytes received so far. */
  bytes = 0;
  error: { code: number; message: string } | null = null;
  private tid = 0;
  private seen = 0;
  /** The ACK not sent when the read paused; sent when it resumes. */
  private withheld: number | null = null;
  private ended = false;

  private constructor(private readonly c: RawClient, private readonly blksize: number) {}

  /** Sends the RRQ; nothing is ACKed before the first read(). */
  static async open(port: number, name: string, options: Record<string, string> = {}): Promise<LockStep> {
    const c = await new RawClient().open();
    c.send(request(OP.RRQ, name, 'octet', options), port);
    return new LockStep(c, Number(options.blksize ?? 512));
  }

  /** The last block arrived, or an ERROR. */
  get done(): boolean {
    return this.ended || this.error !== null;
  }

  /** Receives until `bytes` have arrived, the file ends or an ERROR comes; throws past the deadline. */
  async read(bytes = Infinity, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    if (this.withheld !== null) {
      this.c.send(ack(this.withheld), this.tid);
      this.withheld = null;
    }
    for (;;) {
      while (this.seen < this.c.received.length && !this.done) this.take(this.c.received[this.seen++], bytes);
      if (this.done || this.withheld !== null) return;
      try {
        await this.c.waitFor(this.seen + 1, deadline - Date.now());
      } catch (e) {
        if (!(e instanceof PollTimeout)) throw e;
        throw new PollTimeout(`TFTP read: ${this.bytes} bytes and then nothing within ${timeoutMs / 1000} s`);
      }
    }
  }

  private take(r: { packet: Packet | null; port: number }, limit: number): void {
    if (this.tid === 0) this.tid = r.port;
    const p = r.packet;
    if (r.port !== this.tid || !p) return;
    if (p.op === OP.ERROR) {
      this.error = { code: p.code, message: p.message };
      return;
    }
    let block: number;
    if (p.op === OP.OACK && this.blocks.length === 0) block = 0;
    else if (p.op === OP.DATA && p.block === ((this.blocks.length + 1) & 0xffff)) {
      this.blocks.push(Buffer.from(p.data));
      this.bytes += p.data.length;
      block = p.block;
      this.ended = p.data.length < this.blksize;
    } else return; // A retransmission of what is held.
    if (this.ended || this.bytes < limit) this.c.send(ack(block), this.tid);
    else this.withheld = block;
  }

  close(): void {
    this.c.close();
  }
}

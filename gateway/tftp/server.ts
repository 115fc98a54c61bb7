// A read-only TFTP server (RFC 1350) with options (RFC 2347 OACK, 2348 blksize,
// 2349 tsize and timeout, 7440 windowsize). It knows nothing of canisters: a
// handler maps a path to {size, stream}. Every transfer has its own socket
// bound to the address the request came to, one retransmit timer with backoff,
// and never answers a duplicate ACK with data.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { ERR, OP, error, oack, parse } from './packet.ts';
import { BlockReader, TftpError, netascii, type Client, type Handler, type Source } from './source.ts';

export interface TftpOptions {
  host: string;
  port: number;
  handler: Handler;
  /** Largest blksize granted (RFC 2348 allows up to 65464). */
  maxBlksize?: number;
  /** Largest windowsize granted. */
  maxWindow?: number;
  maxTransfers?: number;
  maxPerClient?: number;
  /** Retransmissions of one window before the transfer is abandoned. */
  retries?: number;
  /** Initial retransmit timeout when the client does not ask for one, ms. */
  timeoutMs?: number;
  log?: (line: string) => void;
}

export interface TransferRecord {
  client: string;
  path: string;
  bytes: number;
  seconds: number;
  blksize: number;
  windowsize: number;
  result: string;
}

const MAX_FILENAME = 512;
const DEFAULT_BLKSIZE = 512;

export class TftpServer {
  private readonly listeners: Socket[] = [];
  private readonly transfers = new Map<string, Transfer>();
  private readonly o: Required<TftpOptions>;
  /** Finished transfers, newest last (bounded), for tests and status. */
  readonly history: TransferRecord[] = [];

  constructor(o: TftpOptions) {
    this.o = {
      maxBlksize: 1468, maxWindow: 64, maxTransfers: 256, maxPerClient: 8, retries: 5, timeoutMs: 1000,
      log: () => {}, ...o,
    };
  }

  /** Binds the listening sockets; returns the addresses actually bound. */
  async listen(): Promise<{ address: string; port: number }[]> {
    // Without IP_PKTINFO a socket on 0.0.0.0 cannot tell which address a
    // request came to, so each local IPv4 address gets its own socket.
    const hosts = this.o.host === '0.0.0.0'
      ? Object.values(networkInterfaces()).flat().filter((i) => i && i.family === 'IPv4').map((i) => i!.address)
      : [this.o.host];
    const bound: { address: string; port: number }[] = [];
    for (const host of hosts) {
      const socket = createSocket('udp4');
      await bind(socket, this.o.port, host);
      socket.on('error', (e) => this.o.log(`tftp: socket error on ${host}: ${e.message}`));
      socket.on('message', (msg, rinfo) => this.onRequest(socket, host, msg, rinfo));
      this.listeners.push(socket);
      bound.push({ address: host, port: socket.address().port });
    }
    return bound;
  }

  get active(): number {
    return this.transfers.size;
  }

  async close(): Promise<void> {
    for (const t of this.transfers.values()) t.abort('server shutting down');
    await Promise.all(this.listeners.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }

  private onRequest(listener: Socket, local: string, msg: Buffer, rinfo: RemoteInfo): void {
    const reply = (code: number, message: string): void => {
      listener.send(error(code, message), rinfo.port, rinfo.address);
    };
    const parsed = parse(msg);
    if (!parsed.ok) {
      if (msg.length >= 2) reply(ERR.ILLEGAL, `malformed packet: ${parsed.reason}`);
      return;
    }
    const p = parsed.packet;
    if (p.op === OP.WRQ) return reply(ERR.ACCESS, 'this server is read-only');
    if (p.op === OP.ERROR) return;
    if (p.op !== OP.RRQ) return reply(ERR.ILLEGAL, 'expected a read request');
    const key = `${rinfo.address}:${rinfo.port}`;
    // A retransmitted RRQ: the transfer's own retransmissions answer it.
    if (this.transfers.has(key)) return;
    if (p.mode !== 'octet' && p.mode !== 'netascii') return reply(ERR.ILLEGAL, `unsupported mode "${p.mode}"`);
    const path = normalize(p.filename);
    if (typeof path !== 'string') return reply(path.code, path.message);
    if (this.transfers.size >= this.o.maxTransfers) return reply(ERR.UNDEFINED, 'server busy, try again');
    let mine = 0;
    for (const t of this.transfers.values()) if (t.client.address === rinfo.address) mine++;
    if (mine >= this.o.maxPerClient) return reply(ERR.UNDEFINED, 'too many transfers from this client');

    const t = new Transfer(this.o, local, { address: rinfo.address, port: rinfo.port }, path, p.mode === 'netascii', p.options, (record) => {
      this.transfers.delete(key);
      this.history.push(record);
      if (this.history.length > 1000) this.history.shift();
      this.o.log(`tftp ${record.client} ${record.path} ${record.bytes} bytes ${record.seconds.toFixed(3)} s `
        + `${(record.bytes / Math.max(record.seconds, 1e-6) / 1e6).toFixed(2)} MB/s blksize=${record.blksize} `
        + `windowsize=${record.windowsize} ${record.result}`);
    });
    this.transfers.set(key, t);
    t.start().catch((e: Error) => t.abort(`internal error: ${e.message}`));
  }
}

function bind(socket: Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, address, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

/** Strips leading slashes, maps `\` to `/`; refuses traversal and over-long names. */
export function normalize(filename: string): string | { code: number; message: string } {
  if (filename.length === 0) return { code: ERR.NOT_FOUND, message: 'empty filename' };
  if (filename.length > MAX_FILENAME) return { code: ERR.ACCESS, message: 'filename too long' };
  const path = filename.replace(/\\/g, '/').replace(/^\/+/, '');
  if (path.split('/').some((s) => s === '..')) return { code: ERR.ACCESS, message: 'access violation: ".." in path' };
  if (/[\u0000-\u001f]/.test(path)) return { code: ERR.ACCESS, message: 'access violation: control character in path' };
  return path;
}

type Options = Required<TftpOptions>;

class Transfer {
  private socket: Socket | null = null;
  private strangers: Socket | null = null;
  private source: BlockReader | null = null;
  private blksize = DEFAULT_BLKSIZE;
  private window = 1;
  private timeoutMs: number;
  /** The negotiated (or default) timeout; backoff starts over from it after progress. */
  private initialTimeoutMs: number;
  /** DATA packets sent but not yet acknowledged, by absolute block number (1-based, no wrap). */
  private readonly inflight = new Map<number, Buffer>();
  private base = 1;
  private next = 1;
  private produced = 0;
  private bytes = 0;
  private last: number | null = null;
  private pumping = false;
  private timer: NodeJS.Timeout | null = null;
  private timerMs = 0;
  private tries = 0;
  private oackPending: Buffer | null = null;
  private done = false;
  private readonly started = performance.now();
  private size = 0;

  constructor(
    private readonly o: Options,
    private readonly local: string,
    readonly client: Client,
    private readonly path: string,
    private readonly ascii: boolean,
    private readonly requested: Map<string, string>,
    private readonly finished: (r: TransferRecord) => void,
  ) {
    this.timeoutMs = o.timeoutMs;
    this.initialTimeoutMs = o.timeoutMs;
  }

  async start(): Promise<void> {
    // The transfer socket is connected to the client: the kernel hands it only
    // the client's packets and sends without a route lookup each time. A second
    // socket on the same port receives everyone else's, to answer ERROR 5.
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    this.socket = socket;
    await bind(socket, 0, this.local);
    const strangers = createSocket({ type: 'udp4', reuseAddr: true });
    this.strangers = strangers;
    await bind(strangers, socket.address().port, this.local);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(this.client.port, this.client.address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    // On a connected socket the kernel reports the client's ICMP "port unreachable".
    socket.on('error', (e: NodeJS.ErrnoException) => this.end(e.code === 'ECONNREFUSED' ? 'client went away (port unreachable)' : `socket error: ${e.message}`));
    socket.on('message', (msg, rinfo) => this.onPacket(msg, rinfo));
    strangers.on('error', () => {});
    strangers.on('message', (_msg, rinfo) => {
      // Another TID: tell it, and carry on undisturbed.
      strangers.send(error(ERR.UNKNOWN_TID, 'unknown transfer ID'), rinfo.port, rinfo.address);
    });

    let src: Source;
    try {
      src = await this.o.handler(this.path, this.client);
    } catch (e) {
      const code = e instanceof TftpError ? e.code : ERR.UNDEFINED;
      return this.fail(code, (e as Error).message);
    }
    if (this.done) return;
    this.size = src.size;
    this.source = new BlockReader(this.ascii ? netascii(src.stream) : src.stream);

    const accepted = this.negotiate();
    if (accepted.size > 0) {
      this.oackPending = oack(accepted);
      this.send(this.oackPending);
      this.arm();
    } else {
      this.pump();
    }
  }

  /** Options granted, in the client's spelling of values; unknown or invalid ones are left out. */
  private negotiate(): Map<string, string> {
    const out = new Map<string, string>();
    const int = (name: string): number | null => {
      const v = this.requested.get(name);
      return v !== undefined && /^\d{1,9}$/.test(v) ? Number(v) : null;
    };
    const blksize = int('blksize');
    if (blksize !== null && blksize >= 8) {
      this.blksize = Math.min(blksize, this.o.maxBlksize, 65464);
      out.set('blksize', String(this.blksize));
    }
    const timeout = int('timeout');
    if (timeout !== null && timeout >= 1 && timeout <= 255) {
      this.timeoutMs = this.initialTimeoutMs = timeout * 1000;
      out.set('timeout', String(timeout));
    }
    if (int('tsize') !== null && !this.ascii) out.set('tsize', String(this.size));
    const windowsize = int('windowsize');
    if (windowsize !== null && windowsize >= 1) {
      this.window = Math.min(windowsize, this.o.maxWindow);
      out.set('windowsize', String(this.window));
    }
    return out;
  }

  private onPacket(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.done || !this.socket) return;
    // A connected socket only receives from the client; checked again all the same.
    if (rinfo.address !== this.client.address || rinfo.port !== this.client.port) return;
    const parsed = parse(msg);
    if (!parsed.ok) return;
    const p = parsed.packet;
    if (p.op === OP.ERROR) return this.end(`client error ${p.code}: ${p.message}`);
    if (p.op !== OP.ACK) return this.fail(ERR.ILLEGAL, 'expected an ACK');
    if (this.oackPending) {
      if (p.block !== 0) return;
      this.oackPending = null;
      this.disarm();
      this.tries = 0;
      this.pump();
      return;
    }
    const acked = this.absolute(p.block);
    // Duplicates and stale ACKs change nothing: only the timer resends.
    if (acked === null || acked < this.base) return;
    for (let b = this.base; b <= acked; b++) this.inflight.delete(b);
    this.base = acked + 1;
    this.tries = 0;
    this.timeoutMs = this.initialTimeoutMs;
    if (this.last !== null && acked >= this.last) return this.end('ok');
    // The client acknowledged less than was sent: resend from the block after it.
    if (this.next > this.base) this.next = this.base;
    // Nothing in flight: no timer while the next blocks are read from the source.
    else this.disarm();
    this.pump();
  }

  /** The absolute block number in flight whose low 16 bits are `b16`. */
  private absolute(b16: number): number | null {
    for (let b = this.next - 1; b >= this.base - 1 && b >= 0; b--) if ((b & 0xffff) === b16) return b;
    return null;
  }

  /**
   * Sends blocks until the window is full. Blocks already read go out at once;
   * only when the source must be waited for does the loop continue later.
   */
  private pump(): void {
    if (this.pumping || this.done) return;
    this.pumping = true;
    try {
      while (!this.done && this.next < this.base + this.window && (this.last === null || this.next <= this.last)) {
        const block = this.next;
        const packet = this.inflight.get(block) ?? this.produce(block, this.source!.readNow(this.blksize, 4));
        if (!packet) {
          this.source!.read(this.blksize, 4).then(
            (chunk) => {
              this.pumping = false;
              if (this.done) return;
              this.produce(block, chunk);
              this.pump();
            },
            (e: Error) => {
              this.pumping = false;
              this.fail(e instanceof TftpError ? e.code : ERR.UNDEFINED, e.message);
            },
          );
          return;
        }
        this.send(packet);
        this.next = block + 1;
      }
      if (!this.done && this.next > this.base) this.arm();
    } catch (e) {
      this.fail(e instanceof TftpError ? e.code : ERR.UNDEFINED, (e as Error).message);
    }
    this.pumping = false;
  }

  /**
   * Turns the next block's bytes (read after 4 bytes of headroom) into its
   * DATA packet, kept until acknowledged.
   */
  private produce(block: number, packet: Buffer | null): Buffer | null {
    if (!packet) return null;
    if (block !== this.produced + 1) throw new Error(`block ${block} produced out of order`);
    const length = packet.length - 4;
    this.bytes += length;
    if (!this.ascii && this.bytes > this.size) throw new TftpError(ERR.UNDEFINED, `source delivered more than ${this.size} bytes`);
    if (length < this.blksize) {
      if (!this.ascii && this.bytes !== this.size) {
        throw new TftpError(ERR.UNDEFINED, `source ended after ${this.bytes} of ${this.size} bytes`);
      }
      this.last = block;
    }
    this.produced = block;
    packet.writeUInt16BE(OP.DATA, 0);
    packet.writeUInt16BE(block & 0xffff, 2);
    this.inflight.set(block, packet);
    return packet;
  }

  /** (Re)starts the one retransmit timer; refresh() reuses it while the timeout is unchanged. */
  private arm(): void {
    if (this.timer && this.timerMs === this.timeoutMs) {
      this.timer.refresh();
      return;
    }
    this.disarm();
    this.timerMs = this.timeoutMs;
    this.timer = setTimeout(() => this.onTimeout(), this.timeoutMs);
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private onTimeout(): void {
    this.timer = null;
    if (this.done) return;
    if (++this.tries > this.o.retries) return this.end(`timeout after ${this.o.retries} retries`);
    this.timeoutMs = Math.min(this.timeoutMs * 2, this.initialTimeoutMs * 4, 8000);
    if (this.oackPending) {
      this.send(this.oackPending);
      this.arm();
      return;
    }
    // Resend the window from the oldest unacknowledged block.
    this.next = this.base;
    this.pump();
  }

  private send(b: Buffer): void {
    this.socket?.send(b);
  }

  private fail(code: number, message: string): void {
    if (this.done) return;
    this.send(error(code, message));
    this.end(`error ${code}: ${message}`);
  }

  abort(reason: string): void {
    this.fail(ERR.UNDEFINED, reason);
  }

  private end(result: string): void {
    if (this.done) return;
    this.done = true;
    this.disarm();
    void this.source?.close();
    const sockets = [this.socket, this.strangers];
    this.socket = null;
    this.strangers = null;
    // Let a final ERROR leave before the sockets close.
    setImmediate(() => sockets.forEach((s) => s?.close()));
    this.finished({
      client: `${this.client.address}:${this.client.port}`,
      path: this.path,
      bytes: this.bytes,
      seconds: (performance.now() - this.started) / 1000,
      blksize: this.blksize,
      windowsize: this.window,
      result,
    });
  }
}

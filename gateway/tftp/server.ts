// A read-only TFTP server (RFC 1350) with options (RFC 2347 OACK, 2348 blksize,
// 2349 tsize and timeout, 7440 windowsize). It knows nothing of canisters: a
// handler maps a name to {size, stream}. Every transfer has its own socket
// bound to the address the request came to, and one timer that is armed in
// every state: waiting for the client (retransmit with backoff) or for the
// source (a deadline). No packet can end the process: peers are checked before
// anything is sent, every send failure ends only its transfer, and slots are
// shared out by gateway/tftp/slots.ts.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { LogThrottle, printable } from '../log.ts';
import { ERR, OP, error, oack, parse } from './packet.ts';
import { Slots, type SlotHolder } from './slots.ts';
import { BlockReader, TftpError, netascii, type Client, type Handler, type Source } from './source.ts';

export interface TftpOptions {
  handler: Handler;
  /** Largest blksize granted (RFC 2348 allows up to 65464). */
  maxBlksize?: number;
  /** Largest windowsize granted. */
  maxWindow?: number;
  maxTransfers?: number;
  maxPerClient?: number;
  /** Concurrent transfers per /24 of client addresses. */
  maxPerSubnet?: number;
  /** Bytes/s below which a transfer gives its slot to a newcomer when its scope is full. */
  minRate?: number;
  /** Largest `timeout` option granted, s; a larger one is declined (RFC 2349 allows no counter-offer). */
  maxTimeout?: number;
  /** Retransmissions of one window before the transfer is abandoned. */
  retries?: number;
  /** Initial retransmit timeout when the client does not ask for one, ms. */
  timeoutMs?: number;
  /** How long a transfer waits for its handler or source before it fails, ms. */
  sourceTimeoutMs?: number;
  log?: (line: string) => void;
  /** Called as each transfer starts; the server keeps what it returns current (gateway/activity.ts). */
  watch?: (client: Client, path: string) => TransferWatch;
}

/** What an observer sees of a transfer: fields the server overwrites (no allocation per packet), and its end. */
/** How a transfer ended, as the gateway's activity record counts it (HTTP uses the same words). */
export type TransferResult = 'ok' | 'not_found' | 'refused' | 'failed';

export interface TransferWatch {
  size: number | null;
  /** Bytes the client has acknowledged. */
  bytes: number;
  end(result: TransferResult, detail: string): void;
}

const unwatched: TransferWatch = { size: null, bytes: 0, end: () => {} };

/** One listening socket, as listenOn() opened it. */
export interface TftpListener {
  readonly port: number;
  /** Closes it; transfers that came through it carry on (or fail, if their address is gone). */
  close(): Promise<void>;
}

export interface TransferRecord {
  client: string;
  path: string;
  bytes: number;
  seconds: number;
  blksize: number;
  windowsize: number;
  /** DATA packets sent, retransmissions included. */
  packets: number;
  result: string;
}

const DEFAULT_BLKSIZE = 512;
const LISTENER_BUFFER_BYTES = 4 * 1024 * 1024;
/** A transfer's rate is judged only after it has waited this long on its client. */
const JUDGE_AFTER_MS = 2000;

/** Whether replies to this source can be sent: a non-zero port, and an IPv4 address outside 0/8, multicast and broadcast. */
export function validPeer(r: { address: string; port: number }): boolean {
  const first = /^(\d{1,3})\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.exec(r.address)?.[1];
  return r.port >= 1 && r.port <= 65535 && first !== undefined && Number(first) >= 1 && Number(first) < 224;
}

function isError(msg: Buffer): boolean {
  return msg.length >= 2 && msg[0] === 0 && msg[1] === OP.ERROR;
}

/** Defaults of the options a deployment may want to tune (the CLI shows these). */
export const TFTP_DEFAULTS = {
  maxTransfers: 256,
  maxPerClient: 8,
  maxPerSubnet: 128,
  minRate: 16 * 1024,
} as const;

type Options = Required<TftpOptions>;

export class TftpServer {
  private readonly listeners = new Set<Socket>();
  private readonly transfers = new Map<string, Transfer>();
  private readonly slots: Slots<Transfer>;
  private readonly o: Options;
  private readonly notices: LogThrottle;

  constructor(o: TftpOptions) {
    this.o = {
      ...TFTP_DEFAULTS, maxBlksize: 1468, maxWindow: 64, maxTimeout: 10, retries: 5, timeoutMs: 1000, sourceTimeoutMs: 30_000, log: () => {},
      watch: () => unwatched, ...o,
    };
    this.slots = new Slots(this.o);
    this.notices = new LogThrottle(this.o.log);
  }

  /** Binds a listening socket to `host`:`port` (0: any free port); bind errors (EADDRNOTAVAIL, EADDRINUSE) are thrown. */
  async listenOn(host: string, port: number): Promise<TftpListener> {
    // A burst of requests (a rack powering on, or an attacker) must not overflow the
    // default ~200 KiB receive buffer and drop the next client's RRQ; the kernel caps this at rmem_max.
    const socket = createSocket({ type: 'udp4', recvBufferSize: LISTENER_BUFFER_BYTES });
    await bind(socket, port, host);
    socket.on('error', (e) => this.notices.line('listener-error', `tftp: socket error on ${host}: ${e.message}`));
    socket.on('message', (msg, rinfo) => {
      try {
        this.onRequest(socket, host, msg, rinfo);
      } catch (e) {
        this.notices.line('internal', `tftp: internal error on a request from ${rinfo.address}:${rinfo.port}: ${(e as Error).message}`);
      }
    });
    this.listeners.add(socket);
    return {
      port: socket.address().port,
      close: async () => {
        if (!this.listeners.delete(socket)) return;
        // Their sockets stay bound to the address: they end when a send fails or the client stops answering.
        const running = [...this.transfers.values()].filter((t) => t.local === host).length;
        if (running > 0) this.o.log(`tftp: stopped listening on ${host}; ${running} transfers running on it may fail`);
        await closed(socket);
      },
    };
  }

  /** Ends every transfer and closes every listening socket. */
  async close(): Promise<void> {
    for (const t of this.transfers.values()) t.abort('server shutting down');
    const all = [...this.listeners];
    this.listeners.clear();
    await Promise.all(all.map(closed));
  }

  private onRequest(listener: Socket, local: string, msg: Buffer, rinfo: RemoteInfo): void {
    if (!validPeer(rinfo)) {
      this.notices.line('bad-peer', `tftp: dropped a packet from ${rinfo.address}:${rinfo.port}: no reply can go to that address and port`);
      return;
    }
    const client = `${rinfo.address}:${rinfo.port}`;
    const reply = (code: number, message: string): void => sendTo(listener, error(code, message), rinfo, this.notices);
    const parsed = parse(msg);
    if (!parsed.ok) {
      if (msg.length >= 2 && !isError(msg)) reply(ERR.ILLEGAL, `malformed packet: ${parsed.reason}`);
      return;
    }
    const p = parsed.packet;
    if (p.op === OP.WRQ) return reply(ERR.ACCESS, 'this server is read-only');
    if (p.op === OP.ERROR) return;
    if (p.op !== OP.RRQ) return reply(ERR.ILLEGAL, 'expected a read request');
    // A retransmitted RRQ: the transfer's own retransmissions answer it.
    if (this.transfers.has(client)) return;
    if (p.mode !== 'octet' && p.mode !== 'netascii') return reply(ERR.ILLEGAL, `unsupported mode "${p.mode}"`);
    const admission = this.slots.admit(rinfo.address, performance.now());
    if (!admission.ok) {
      this.notices.line('refused', `tftp: refused ${client} ${printable(p.filename)}: ${admission.reason}`);
      return reply(ERR.UNDEFINED, admission.reason);
    }
    for (const victim of admission.evict) {
      this.notices.line('evicted', `tftp: ${victim.client.address}:${victim.client.port} gives its slot to ${client}`);
      victim.abort('server full: this transfer was too slow or its client held too many; try again');
    }

    const t = new Transfer(this.o, local, { address: rinfo.address, port: rinfo.port }, p.filename, p.mode === 'netascii', p.options, (record) => {
      this.transfers.delete(client);
      this.slots.remove(t);
      this.o.log(`tftp ${record.client} ${printable(record.path)} ${record.bytes} bytes ${record.seconds.toFixed(3)} s `
        + `${(record.bytes / Math.max(record.seconds, 1e-6) / 1e6).toFixed(2)} MB/s blksize=${record.blksize} `
        + `windowsize=${record.windowsize} ${record.result}`);
    });
    this.transfers.set(client, t);
    this.slots.add(t);
    t.start().catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'EMFILE' || e.code === 'ENFILE') {
        this.notices.line('fds', `tftp: out of file descriptors (${e.code}); refusing new transfers until some close`);
        reply(ERR.UNDEFINED, 'server busy, try again');
      }
      t.abort(`cannot start: ${e.message}`);
    });
  }
}

/** Binds `socket`; on failure it is closed, so a listener retried each time its address appears leaks nothing. */
function bind(socket: Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', (e) => {
      closeQuietly(socket);
      reject(e);
    });
    socket.bind(port, address, () => {
      socket.removeAllListeners('error');
      resolve();
    });
  });
}

/** Sends on an unconnected socket; a failure is logged, never thrown. */
function sendTo(socket: Socket, b: Buffer, to: RemoteInfo, notices: LogThrottle): void {
  try {
    socket.send(b, to.port, to.address);
  } catch (e) {
    notices.line('send', `tftp: cannot reply to ${to.address}:${to.port}: ${(e as Error).message}`);
  }
}

function closed(s: Socket): Promise<void> {
  return new Promise((r) => s.close(() => r()));
}

function closeQuietly(s: Socket | null): void {
  try {
    s?.close();
  } catch {
    // Never bound, or already closed.
  }
}

class Transfer implements SlotHolder {
  private socket: Socket | null = null;
  private strangers: Socket | null = null;
  private connected = false;
  private source: BlockReader | null = null;
  private blksize = DEFAULT_BLKSIZE;
  private window = 1;
  private timeoutMs: number;
  /** The negotiated (or default) timeout; backoff starts over from it after progress. */
  private initialTimeoutMs: number;
  /** DATA packets sent but not yet acknowledged, by absolute block number (1-based, no wrap). */
  private readonly inflight = new Map<number, Buffer>();
  /** The oldest unacknowledged block: the window's start. */
  private base = 1;
  /** The next block to send. */
  private next = 1;
  private produced = 0;
  private bytes = 0;
  private last: number | null = null;
  private reading = false;
  private timer: NodeJS.Timeout | null = null;
  private timerMs = 0;
  private tries = 0;
  private oackPending: Buffer | null = null;
  /** A duplicate ACK of the window's start has already resent the window. */
  private resentOnDuplicate = false;
  private done = false;
  private packets = 0;
  private readonly started = performance.now();
  private size = 0;
  /** Bytes the client has acknowledged, and the time spent waiting on it, for its rate. */
  private ackedBytes = 0;
  private clientWaitMs = 0;
  private waitingSince: number | null = null;
  /** How a failure counts (not_found, refused); anything else that ends a transfer early is `failed`. */
  private outcome: TransferResult = 'failed';
  private readonly watch: TransferWatch;

  constructor(
    private readonly o: Options,
    /** The local address the request came to, and replies leave from. */
    readonly local: string,
    readonly client: Client,
    private readonly path: string,
    private readonly ascii: boolean,
    private readonly requested: Map<string, string>,
    private readonly finished: (r: TransferRecord) => void,
  ) {
    this.timeoutMs = o.timeoutMs;
    this.initialTimeoutMs = o.timeoutMs;
    this.watch = o.watch(client, path);
  }

  get address(): string {
    return this.client.address;
  }

  clientRate(now: number): number | null {
    const waited = this.clientWaitMs + (this.waitingSince === null ? 0 : now - this.waitingSince);
    return waited < JUDGE_AFTER_MS ? null : (this.ackedBytes * 1000) / waited;
  }

  async start(): Promise<void> {
    // Setting up and asking the handler are bounded like waiting for the source.
    this.arm(this.o.sourceTimeoutMs);
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
    if (this.done) {
      // Ended (aborted, timed out) while the sockets were being set up.
      closeQuietly(socket);
      closeQuietly(strangers);
      return;
    }
    this.connected = true;
    // On a connected socket the kernel reports the client's ICMP "port unreachable".
    socket.on('error', (e: NodeJS.ErrnoException) => this.end(e.code === 'ECONNREFUSED' ? 'client went away (port unreachable)' : `socket error: ${e.message}`));
    socket.on('message', (msg, rinfo) => {
      try {
        this.onPacket(msg, rinfo);
      } catch (e) {
        this.fail(ERR.UNDEFINED, `internal error: ${(e as Error).message}`);
      }
    });
    strangers.on('error', () => {
      // Replies to strangers are a courtesy; their failures do not concern the transfer.
    });
    strangers.on('message', (msg, rinfo) => {
      // Another TID: tell it, and carry on undisturbed. Never answer an ERROR,
      // or two transfers' stranger sockets could bounce ERRORs for ever.
      if (!validPeer(rinfo) || isError(msg)) return;
      try {
        strangers.send(error(ERR.UNKNOWN_TID, 'unknown transfer ID'), rinfo.port, rinfo.address);
      } catch {
        // As above.
      }
    });

    let src: Source;
    try {
      src = await this.o.handler(this.path, this.client);
    } catch (e) {
      const code = e instanceof TftpError ? e.code : ERR.UNDEFINED;
      return this.fail(code, (e as Error).message);
    }
    this.size = src.size;
    this.watch.size = src.size;
    this.source = new BlockReader(this.ascii ? netascii(src.stream) : src.stream);
    if (this.done) {
      // Ended while the handler answered: end() could not close this source yet.
      this.closeSource();
      return;
    }

    const accepted = this.negotiate();
    if (accepted.size > 0) {
      this.oackPending = oack(accepted);
      if (!this.sendPacket(this.oackPending)) return;
      this.waitingSince = performance.now();
      this.arm(this.timeoutMs);
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
    if (timeout !== null && timeout >= 1 && timeout <= Math.min(this.o.maxTimeout, 255)) {
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
    if (this.done) return;
    // A connected socket only receives from the client; checked again all the same.
    if (rinfo.address !== this.client.address || rinfo.port !== this.client.port) return;
    const parsed = parse(msg);
    if (!parsed.ok) return;
    const p = parsed.packet;
    if (p.op === OP.ERROR) return this.end(`client error ${p.code}: ${p.message}`);
    if (p.op !== OP.ACK) return this.fail(ERR.ILLEGAL, 'expected an ACK');
    const now = performance.now();
    if (this.oackPending) {
      if (p.block !== 0) return;
      this.oackPending = null;
      this.progress(now, 0);
      this.pump();
      return;
    }
    const acked = this.absolute(p.block);
    if (acked === null) return;
    if (acked < this.base) {
      // A duplicate ACK of the window's start: a block was lost. Resend the
      // window once (go-back-N, RFC 7440); in lock-step never, as answering
      // duplicate ACKs with DATA is the Sorcerer's Apprentice bug.
      if (this.window > 1 && !this.resentOnDuplicate && this.next > this.base) {
        this.resentOnDuplicate = true;
        this.next = this.base;
        this.pump();
      }
      return;
    }
    let freed = 0;
    for (let b = this.base; b <= acked; b++) {
      freed += (this.inflight.get(b)?.length ?? 4) - 4;
      this.inflight.delete(b);
    }
    this.base = acked + 1;
    // Blocks the resend had not reached yet are still on their way from before.
    if (this.next < this.base) this.next = this.base;
    this.progress(now, freed);
    if (this.last !== null && acked >= this.last) return this.end('ok');
    // An ACK inside the window slides it: only blocks not yet sent go out.
    this.pump();
  }

  /** The client acknowledged `bytes` more: retries and backoff start over. */
  private progress(now: number, bytes: number): void {
    this.ackedBytes += bytes;
    this.watch.bytes = this.ackedBytes;
    if (this.waitingSince !== null) this.clientWaitMs += now - this.waitingSince;
    this.waitingSince = now;
    this.tries = 0;
    this.timeoutMs = this.initialTimeoutMs;
    this.resentOnDuplicate = false;
  }

  /**
   * The absolute block number whose low 16 bits are `b16`, among the blocks
   * read so far and not yet acknowledged, or the last one acknowledged.
   */
  private absolute(b16: number): number | null {
    for (let b = this.produced; b >= this.base - 1 && b >= 0; b--) if ((b & 0xffff) === b16) return b;
    return null;
  }

  /**
   * Sends blocks until the window is full. Blocks already read go out at once;
   * when the source must be waited for, a read is started and sending goes on
   * when it completes. Then the timer is armed for whichever is awaited.
   */
  private pump(): void {
    if (this.done) return;
    try {
      while (this.next < this.base + this.window && (this.last === null || this.next <= this.last)) {
        let packet = this.inflight.get(this.next);
        if (!packet) {
          const bytes = this.reading ? null : this.source!.readNow(this.blksize, 4);
          if (!bytes) {
            this.readMore();
            break;
          }
          packet = this.produce(bytes);
        }
        if (!this.sendPacket(packet)) return;
        this.packets++;
        this.next++;
      }
    } catch (e) {
      return this.failWith(e);
    }
    if (this.done) return;
    if (this.next > this.base) {
      this.waitingSince ??= performance.now();
      this.arm(this.timeoutMs);
    } else {
      // Everything sent is acknowledged: waiting on the source, not the client.
      this.waitingSince = null;
      this.arm(this.o.sourceTimeoutMs);
    }
  }

  private readMore(): void {
    if (this.reading) return;
    this.reading = true;
    this.source!.read(this.blksize, 4).then((bytes) => {
      this.reading = false;
      if (this.done) return;
      try {
        this.produce(bytes);
      } catch (e) {
        return this.failWith(e);
      }
      this.pump();
    }, (e: unknown) => {
      this.reading = false;
      this.failWith(e);
    });
  }

  /**
   * Turns the next block's bytes (read after 4 bytes of headroom) into its
   * DATA packet, kept until acknowledged.
   */
  private produce(packet: Buffer): Buffer {
    const block = this.produced + 1;
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

  /** (Re)starts the one timer; refresh() reuses it while the timeout is unchanged. */
  private arm(ms: number): void {
    if (this.timer && this.timerMs === ms) {
      this.timer.refresh();
      return;
    }
    this.disarm();
    this.timerMs = ms;
    this.timer = setTimeout(() => this.onTimer(), ms);
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private onTimer(): void {
    this.timer = null;
    if (this.done) return;
    if (!this.oackPending && this.next === this.base) {
      return this.fail(ERR.UNDEFINED, `no data to send within ${this.o.sourceTimeoutMs / 1000} s`);
    }
    if (++this.tries > this.o.retries) return this.end(`timeout after ${this.o.retries} retries`);
    this.timeoutMs = Math.max(this.initialTimeoutMs, Math.min(this.timeoutMs * 2, this.initialTimeoutMs * 4, 8000));
    if (this.oackPending) {
      if (this.sendPacket(this.oackPending)) this.arm(this.timeoutMs);
      return;
    }
    // Resend the window from the oldest unacknowledged block.
    this.next = this.base;
    this.pump();
  }

  /** Sends on the connected socket; a failure ends the transfer (and returns false). */
  private sendPacket(b: Buffer): boolean {
    if (!this.connected || !this.socket) return false;
    try {
      this.socket.send(b);
      return true;
    } catch (e) {
      this.end(`cannot send: ${(e as Error).message}`);
      return false;
    }
  }

  private failWith(e: unknown): void {
    this.fail(e instanceof TftpError ? e.code : ERR.UNDEFINED, e instanceof Error ? e.message : String(e));
  }

  private fail(code: number, message: string): void {
    if (this.done) return;
    if (code === ERR.NOT_FOUND) this.outcome = 'not_found';
    else if (code === ERR.ACCESS) this.outcome = 'refused';
    this.sendPacket(error(code, message));
    this.end(`error ${code}: ${message}`);
  }

  abort(reason: string): void {
    this.fail(ERR.UNDEFINED, reason);
  }

  /** Stops the source; the transfer is over, so a failure to close is only worth a log line. */
  private closeSource(): void {
    void this.source?.close().catch((e: unknown) => {
      this.o.log(`tftp ${this.client.address}:${this.client.port} ${printable(this.path)}: cannot close its source: ${e instanceof Error ? e.message : String(e)}`);
    });
  }

  private end(result: string): void {
    if (this.done) return;
    this.done = true;
    this.disarm();
    this.closeSource();
    const sockets = [this.socket, this.strangers];
    this.socket = null;
    this.strangers = null;
    this.connected = false;
    // Let a final ERROR leave before the sockets close.
    setImmediate(() => sockets.forEach(closeQuietly));
    this.finished({
      client: `${this.client.address}:${this.client.port}`,
      path: this.path,
      bytes: this.bytes,
      seconds: (performance.now() - this.started) / 1000,
      blksize: this.blksize,
      windowsize: this.window,
      packets: this.packets,
      result,
    });
    this.watch.end(result === 'ok' ? 'ok' : this.outcome, result);
  }
}

// A read-only TFTP server (RFC 1350) with options (RFC 2347 OACK, 2348 blksize,
// 2349 tsize and timeout, 7440 windowsize). It knows nothing of canisters: a
// handler maps a name to {size, stream}. This thread listens, admits (slots
// are shared out by gateway/tftp/slots.ts) and answers the handler; each
// transfer (gateway/tftp/transfer.ts) runs here or on a worker thread
// (gateway/tftp/workers.ts), so that a boot storm uses every core. No packet
// can end the process: peers are checked before anything is sent, and every
// send failure ends only its transfer.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { LogThrottle, printable } from '../log.ts';
import { ERR, OP, error, isError, parse } from './packet.ts';
import { Progress, now } from './progress.ts';
import { Slots, type SlotHolder } from './slots.ts';
import { bind, closed, validPeer } from './sockets.ts';
import type { Client, Handler } from './source.ts';
import type { TransferLimits, TransferResult } from './transfer.ts';
import { inThisThread, TransferWorkers, type Running, type TransferRunner } from './workers.ts';

export type { TransferRecord, TransferResult } from './transfer.ts';

export interface TftpOptions extends Partial<TransferLimits> {
  handler: Handler;
  maxTransfers?: number;
  maxPerClient?: number;
  /** Concurrent transfers per /24 of client addresses. */
  maxPerSubnet?: number;
  /** Bytes/s below which a transfer gives its slot to a newcomer when its scope is full. */
  minRate?: number;
  /** Worker threads serving transfers; 0 serves them on this thread. */
  workers?: number;
  log?: (line: string) => void;
  /** Called as each transfer starts; the server keeps what it returns current (gateway/activity.ts). */
  watch?: (client: Client, path: string) => TransferWatch;
}

/** What an observer sees of a transfer: fields the server overwrites (no allocation per packet), and its end. */
export interface TransferWatch {
  size: number | null;
  /** Bytes the client has acknowledged. */
  bytes: number;
  end(result: TransferResult, detail: string): void;
}

const unwatched = (): TransferWatch => ({ size: null, bytes: 0, end: () => {} });

/** One listening socket, as listenOn() opened it. */
export interface TftpListener {
  readonly port: number;
  /** Closes it; transfers that came through it carry on (or fail, if their address is gone). */
  close(): Promise<void>;
}

const LISTENER_BUFFER_BYTES = 4 * 1024 * 1024;
/** How often watchers see the bytes of running transfers (the status page and metrics read them). */
const WATCH_SYNC_MS = 250;

/** Defaults of the options a deployment may want to tune (the CLI shows these). */
export const TFTP_DEFAULTS = {
  maxTransfers: 256,
  maxPerClient: 8,
  maxPerSubnet: 128,
  minRate: 16 * 1024,
} as const;

/** A transfer admitted and not yet ended, as this thread tracks it. */
class Admitted implements SlotHolder {
  readonly progress = new Progress();
  handle: Running | null = null;

  constructor(readonly local: string, readonly client: Client, readonly watch: TransferWatch) {}

  get address(): string {
    return this.client.address;
  }

  get ended(): boolean {
    return this.progress.ended;
  }

  clientRate(at: number): number | null {
    return this.progress.clientRate(at);
  }

  abort(reason: string): void {
    this.handle?.abort(reason);
  }
}

export class TftpServer {
  private readonly listeners = new Set<Socket>();
  private readonly transfers = new Map<string, Admitted>();
  private readonly slots: Slots<Admitted>;
  private readonly o: Required<TftpOptions>;
  private readonly notices: LogThrottle;
  private readonly runner: TransferRunner;
  private syncTimer: NodeJS.Timeout | null = null;

  constructor(o: TftpOptions) {
    this.o = {
      ...TFTP_DEFAULTS, maxBlksize: 1468, maxWindow: 64, maxTimeout: 10, retries: 5, timeoutMs: 1000, sourceTimeoutMs: 30_000, log: () => {},
      watch: unwatched, workers: 0, ...o,
    };
    this.slots = new Slots(this.o);
    this.notices = new LogThrottle(this.o.log);
    const limits: TransferLimits = {
      maxBlksize: this.o.maxBlksize, maxWindow: this.o.maxWindow, maxTimeout: this.o.maxTimeout, retries: this.o.retries,
      timeoutMs: this.o.timeoutMs, sourceTimeoutMs: this.o.sourceTimeoutMs,
    };
    this.runner = this.o.workers > 0 ? new TransferWorkers(this.o.workers, limits, this.o.log) : inThisThread(limits, this.o.log);
  }

  /** Binds a listening socket to `host`:`port` (0: any free port); bind errors (EADDRNOTAVAIL, EADDRINUSE) are thrown. */
  async listenOn(host: string, port: number): Promise<TftpListener> {
    await this.runner.ready();
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

  /** Ends every transfer, closes every listening socket and stops the workers. */
  async close(): Promise<void> {
    for (const t of this.transfers.values()) t.abort('server shutting down');
    const all = [...this.listeners];
    this.listeners.clear();
    await Promise.all([...all.map(closed), this.runner.close()]);
  }

  private onRequest(listener: Socket, local: string, msg: Buffer, rinfo: RemoteInfo): void {
    if (!validPeer(rinfo)) {
      this.notices.line('bad-peer', `tftp: dropped a packet from ${rinfo.address}:${rinfo.port}: no reply can go to that address and port`);
      return;
    }
    const key = `${rinfo.address}:${rinfo.port}`;
    // Anything else from a client whose transfer runs is that transfer's business, never an ERROR that
    // would end it: a retransmitted RRQ, or what curl sends when its first timeout expires before the
    // OACK (the first 4 bytes of its RRQ).
    if (this.transfers.has(key)) return;
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
    if (p.mode !== 'octet' && p.mode !== 'netascii') return reply(ERR.ILLEGAL, `unsupported mode "${p.mode}"`);
    const admission = this.slots.admit(rinfo.address, now());
    if (!admission.ok) {
      this.notices.line('refused', `tftp: refused ${key} ${printable(p.filename)}: ${admission.reason}`);
      return reply(ERR.UNDEFINED, admission.reason);
    }
    for (const victim of admission.evict) {
      this.notices.line('evicted', `tftp: ${victim.client.address}:${victim.client.port} gives its slot to ${key}`);
      // Its slot is free now: a transfer on a worker ends a moment later, and must not be evicted twice meanwhile.
      this.slots.remove(victim);
      victim.abort('server full: this transfer was too slow or its client held too many; try again');
    }

    const client = { address: rinfo.address, port: rinfo.port };
    const t = new Admitted(local, client, this.o.watch(client, p.filename));
    this.transfers.set(key, t);
    this.slots.add(t);
    this.syncWatches();
    const open: Handler = async (path, from) => {
      const source = await this.o.handler(path, from);
      t.watch.size = source.size;
      return source;
    };
    t.handle = this.runner.start({ local, client, path: p.filename, ascii: p.mode === 'netascii', options: p.options }, open, t.progress, (record) => {
      this.transfers.delete(key);
      this.slots.remove(t);
      if (record.setupError === 'EMFILE' || record.setupError === 'ENFILE') {
        this.notices.line('fds', `tftp: out of file descriptors (${record.setupError}); refusing new transfers until some close`);
        reply(ERR.UNDEFINED, 'server busy, try again');
      }
      this.o.log(`tftp ${record.client} ${printable(record.path)} ${record.bytes} bytes ${record.seconds.toFixed(3)} s `
        + `${(record.bytes / Math.max(record.seconds, 1e-6) / 1e6).toFixed(2)} MB/s blksize=${record.blksize} `
        + `windowsize=${record.windowsize} ${record.result}`);
      t.watch.bytes = t.progress.acked;
      t.watch.end(record.outcome, record.result);
    });
  }

  /** Copies each running transfer's acknowledged bytes to its watcher, a few times a second while any runs. */
  private syncWatches(): void {
    if (this.syncTimer) return;
    this.syncTimer = setInterval(() => {
      for (const t of this.transfers.values()) t.watch.bytes = t.progress.acked;
      if (this.transfers.size === 0) {
        clearInterval(this.syncTimer!);
        this.syncTimer = null;
      }
    }, WATCH_SYNC_MS);
    this.syncTimer.unref();
  }
}

/** Sends on an unconnected socket; a failure is logged, never thrown. */
function sendTo(socket: Socket, b: Buffer, to: RemoteInfo, notices: LogThrottle): void {
  try {
    socket.send(b, to.port, to.address);
  } catch (e) {
    notices.line('send', `tftp: cannot reply to ${to.address}:${to.port}: ${(e as Error).message}`);
  }
}

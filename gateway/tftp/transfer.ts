// One TFTP read transfer, from the request's options to the last ACK: its own
// socket bound to the address the request came to and connected to the
// client, and one timer armed in every state: waiting for the client
// (retransmit with backoff) or for the source (a deadline). It runs in the
// thread that admitted it or in a worker (gateway/tftp/workers.ts), and knows
// neither: it reads a Source and reports its Progress and its end.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { printable } from '../log.ts';
import { ERR, OP, ackedBlock, error, isError, oack, parse } from './packet.ts';
import { now, type Progress } from './progress.ts';
import { Rto } from './rto.ts';
import { bind, closeQuietly, validPeer } from './sockets.ts';
import { BlockReader, TftpError, netascii, type Client, type Handler } from './source.ts';

/** How a transfer ended, as the gateway's activity record counts it (HTTP uses the same words). */
export type TransferResult = 'ok' | 'not_found' | 'refused' | 'failed';

export interface TransferLimits {
  /** Largest blksize granted (RFC 2348 allows up to 65464). */
  maxBlksize: number;
  /** Largest windowsize granted. */
  maxWindow: number;
  /** Largest `timeout` option granted, s; a larger one is declined (RFC 2349 allows no counter-offer). */
  maxTimeout: number;
  /** Retransmissions of one window at the configured timeout or longer before the transfer is abandoned. */
  retries: number;
  /**
   * Retransmit timeout when the client does not ask for one, ms: the timeout
   * before the round trip is known, the most it adapts to, and the one from
   * which retries count toward giving up.
   */
  timeoutMs: number;
  /** How long a transfer waits for its handler or source before it fails, ms. */
  sourceTimeoutMs: number;
}

/** A read request, admitted. */
export interface TransferRequest {
  /** The local address the request came to, and replies leave from. */
  local: string;
  client: Client;
  path: string;
  ascii: boolean;
  /** Options as requested (names lower-cased). */
  options: Map<string, string>;
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
  /** How it ended, in words for the log. */
  result: string;
  /** How it ended, as counted. */
  outcome: TransferResult;
  /** The errno code when its sockets could not be set up (EMFILE: out of descriptors). */
  setupError?: string;
}

const DEFAULT_BLKSIZE = 512;

export class Transfer {
  private socket: Socket | null = null;
  private strangers: Socket | null = null;
  private connected = false;
  private source: BlockReader | null = null;
  private blksize = DEFAULT_BLKSIZE;
  private window = 1;
  /** The timeout the timer waits now: backoff doubles it, progress starts it over. */
  private timeoutMs: number;
  /** The negotiated or configured timeout. */
  private configuredTimeoutMs: number;
  /** Where backoff starts when the client did not negotiate a timeout (lock-step only). */
  private rto: Rto | null = null;
  /** A timeout fired: it stays backed off until a block sent once is acknowledged (Karn). */
  private backedOff = false;
  /** The block being timed for the RTO, sent once, and when; null while none is. */
  private probe: number | null = null;
  private probeSentAt = 0;
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
  private readonly started = now();
  private size = 0;
  /** How a failure counts (not_found, refused); anything else that ends a transfer early is `failed`. */
  private outcome: TransferResult = 'failed';
  private setupError: string | undefined;
  private readonly client: Client;

  constructor(
    private readonly o: TransferLimits & { log: (line: string) => void },
    private readonly request: TransferRequest,
    private readonly open: Handler,
    private readonly progress: Progress,
    private readonly finished: (r: TransferRecord) => void,
  ) {
    this.client = request.client;
    this.timeoutMs = o.timeoutMs;
    this.configuredTimeoutMs = o.timeoutMs;
  }

  /** Sets up, opens the source and sends; every failure ends the transfer (never rejects). */
  async start(): Promise<void> {
    try {
      await this.setUp();
    } catch (e) {
      this.setupError = (e as NodeJS.ErrnoException).code;
      return this.fail(ERR.UNDEFINED, `cannot start: ${(e as Error).message}`);
    }
    if (this.done) {
      // Ended (aborted, timed out) while the sockets were being set up.
      closeQuietly(this.socket);
      closeQuietly(this.strangers);
      return;
    }
    await this.openSource();
  }

  private async setUp(): Promise<void> {
    // Setting up and asking the handler are bounded like waiting for the source.
    this.arm(this.o.sourceTimeoutMs);
    // The transfer socket is connected to the client: the kernel hands it only
    // the client's packets and sends without a route lookup each time. A second
    // socket on the same port receives everyone else's, to answer ERROR 5.
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    this.socket = socket;
    await bind(socket, 0, this.request.local);
    if (this.done) return;
    const strangers = createSocket({ type: 'udp4', reuseAddr: true });
    this.strangers = strangers;
    await bind(strangers, socket.address().port, this.request.local);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(this.client.port, this.client.address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    if (this.done) return;
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
  }

  private async openSource(): Promise<void> {
    let src;
    try {
      src = await this.open(this.request.path, this.client);
    } catch (e) {
      const code = e instanceof TftpError ? e.code : ERR.UNDEFINED;
      return this.fail(code, (e as Error).message);
    }
    this.size = src.size;
    this.source = new BlockReader(this.request.ascii ? netascii(src.stream) : src.stream);
    if (this.done) {
      // Ended while the handler answered: end() could not close this source yet.
      this.closeSource();
      return;
    }

    const accepted = this.negotiate();
    if (accepted.size > 0) {
      this.oackPending = oack(accepted);
      if (!this.sendPacket(this.oackPending)) return;
      this.progress.waiting(now());
      this.arm(this.timeoutMs);
    } else {
      this.pump();
    }
  }

  /** Options granted, in the client's spelling of values; unknown or invalid ones are left out. */
  private negotiate(): Map<string, string> {
    const out = new Map<string, string>();
    const requested = this.request.options;
    const int = (name: string): number | null => {
      const v = requested.get(name);
      return v !== undefined && /^\d{1,9}$/.test(v) ? Number(v) : null;
    };
    const blksize = int('blksize');
    if (blksize !== null && blksize >= 8) {
      this.blksize = Math.min(blksize, this.o.maxBlksize, 65464);
      out.set('blksize', String(this.blksize));
    }
    const timeout = int('timeout');
    const negotiated = timeout !== null && timeout >= 1 && timeout <= Math.min(this.o.maxTimeout, 255);
    if (negotiated) {
      this.timeoutMs = this.configuredTimeoutMs = timeout * 1000;
      out.set('timeout', String(timeout));
    }
    if (int('tsize') !== null && !this.request.ascii) out.set('tsize', String(this.size));
    const windowsize = int('windowsize');
    if (windowsize !== null && windowsize >= 1) {
      this.window = Math.min(windowsize, this.o.maxWindow);
      out.set('windowsize', String(this.window));
    }
    // With a window, an early resend draws duplicate ACKs that resend the next window too: lock-step only.
    if (!negotiated && this.window === 1) this.rto = new Rto(this.configuredTimeoutMs);
    return out;
  }

  private onPacket(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.done) return;
    // A connected socket only receives from the client; checked again all the same.
    if (rinfo.address !== this.client.address || rinfo.port !== this.client.port) return;
    // Nearly every packet is a plain ACK: read it without parsing.
    let block = ackedBlock(msg);
    if (block === null) {
      const parsed = parse(msg);
      if (!parsed.ok) return;
      const p = parsed.packet;
      if (p.op === OP.ERROR) return this.end(`client error ${p.code}: ${p.message}`);
      if (p.op !== OP.ACK) return this.fail(ERR.ILLEGAL, 'expected an ACK');
      block = p.block;
    }
    const at = now();
    if (this.oackPending) {
      if (block !== 0) return;
      this.oackPending = null;
      this.acknowledged(at, 0);
      this.pump();
      return;
    }
    const acked = this.absolute(block);
    if (acked === null) return;
    if (acked < this.base) {
      // A duplicate ACK of the window's start: a block was lost. Resend the
      // window once (go-back-N, RFC 7440); in lock-step never, as answering
      // duplicate ACKs with DATA is the Sorcerer's Apprentice bug.
      if (this.window > 1 && !this.resentOnDuplicate && this.next > this.base) {
        this.resentOnDuplicate = true;
        this.next = this.base;
        this.probe = null;
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
    if (this.probe !== null && acked >= this.probe) {
      this.rto?.sample(at - this.probeSentAt);
      this.probe = null;
      this.backedOff = false;
    }
    // Blocks the resend had not reached yet are still on their way from before.
    if (this.next < this.base) this.next = this.base;
    this.acknowledged(at, freed);
    if (this.last !== null && acked >= this.last) return this.end('ok');
    // An ACK inside the window slides it: only blocks not yet sent go out.
    this.pump();
  }

  /** The client acknowledged `bytes` more: retries and backoff start over. */
  private acknowledged(at: number, bytes: number): void {
    this.progress.acknowledged(bytes, at);
    this.tries = 0;
    if (!this.rto) this.timeoutMs = this.configuredTimeoutMs;
    else if (!this.backedOff) this.timeoutMs = this.rto.ms;
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
    const at = now();
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
          if (this.probe === null) {
            this.probe = this.next;
            this.probeSentAt = at;
          }
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
      this.progress.waiting(at);
      this.arm(this.timeoutMs);
    } else {
      // Everything sent is acknowledged: waiting on the source, not the client.
      this.progress.waiting(null);
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
    if (!this.request.ascii && this.bytes > this.size) throw new TftpError(ERR.UNDEFINED, `source delivered more than ${this.size} bytes`);
    if (length < this.blksize) {
      if (!this.request.ascii && this.bytes !== this.size) {
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
    // Adaptive retransmissions sooner than the configured timeout come on top of the retries, so a
    // client gets as long as ever to answer before it is given up.
    if (this.timeoutMs >= this.configuredTimeoutMs && ++this.tries > this.o.retries) return this.end(`timeout after ${this.o.retries} retries`);
    const configured = this.configuredTimeoutMs;
    this.timeoutMs = Math.min(this.timeoutMs * 2, Math.max(configured, Math.min(configured * 4, 8000)));
    this.probe = null;
    this.backedOff = true;
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
      this.o.log(`tftp ${this.client.address}:${this.client.port} ${printable(this.request.path)}: cannot close its source: ${e instanceof Error ? e.message : String(e)}`);
    });
  }

  private end(result: string): void {
    if (this.done) return;
    this.done = true;
    this.progress.end();
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
      path: this.request.path,
      bytes: this.bytes,
      seconds: (now() - this.started) / 1000,
      blksize: this.blksize,
      windowsize: this.window,
      packets: this.packets,
      result,
      outcome: result === 'ok' ? 'ok' : this.outcome,
      setupError: this.setupError,
    });
  }
}

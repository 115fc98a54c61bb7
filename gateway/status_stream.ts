// The status page's event stream (`/?events`), one per HTTP server for all
// open pages: the view is built and serialised once per tick whatever the
// number of pages, sent only when it changed (or as a heartbeat), and written
// only to pages that keep up. A page whose unsent bytes stay above a bound is
// closed, so one that never reads costs a bounded amount of memory. Streams
// are capped in total and per client address; beyond that the answer is 503.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Activity } from './activity.ts';
import { statusView } from './status_view.ts';

export interface StreamLimits {
  /** Open streams at most, and per client IP address. */
  total: number;
  perClient: number;
  /** Unsent bytes (Node's buffer and the socket's) above which a stream is not written to. */
  bufferedBytes: number;
  /** How long a stream may stay above `bufferedBytes` before it is closed. */
  behindMs: number;
  /** A stream with nothing sent or received for this long is closed (by its socket's timeout). */
  idleMs: number;
  everyMs: number;
  /** An unchanged view is sent again after this long, so pages keep their clock and sockets stay active. */
  heartbeatMs: number;
}

export const STREAM_LIMITS: StreamLimits = {
  total: 32, perClient: 4, bufferedBytes: 1 << 20, behindMs: 10_000, idleMs: 60_000, everyMs: 500, heartbeatMs: 5_000,
};

/** Seconds a refused page is told to wait (the page retries on its own). */
const RETRY_AFTER_S = 10;

interface Subscriber {
  readonly res: ServerResponse;
  readonly ip: string;
  /** Since when its unsent bytes have been above the bound, ms; null while it keeps up. */
  behindSince: number | null;
}

export class StatusStreams {
  private readonly subscribers = new Set<Subscriber>();
  private readonly perClient = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  /** The view last built, the time it was built, and the event carrying both. */
  private view = '';
  private builtAt = 0;
  private frame: Buffer | null = null;
  private sentAt = 0;
  /** Streams closed because their reader fell behind. */
  dropped = 0;

  constructor(
    private readonly activity: Activity,
    /** Told the number of open streams each time it changes. */
    private readonly changed: (open: number) => void = () => {},
    private readonly limits: StreamLimits = STREAM_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  get open(): number {
    return this.subscribers.size;
  }

  /** Bytes written to open streams and not yet taken by their clients. */
  get buffered(): number {
    let n = 0;
    for (const s of this.subscribers) n += s.res.writableLength;
    return n;
  }

  /** Answers `GET /?events` from a client at `ip`. */
  serve(req: IncomingMessage, res: ServerResponse, ip: string): void {
    const { total, perClient } = this.limits;
    const mine = this.perClient.get(ip) ?? 0;
    if (this.subscribers.size >= total || mine >= perClient) {
      const text = `too many status pages open (${total} at most, ${perClient} per client): try again later\n`;
      res.writeHead(503, {
        'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Retry-After': String(RETRY_AFTER_S),
      });
      res.end(req.method === 'HEAD' ? undefined : text);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    req.socket.setTimeout(this.limits.idleMs);
    const s: Subscriber = { res, ip, behindSince: null };
    this.subscribers.add(s);
    this.perClient.set(ip, mine + 1);
    res.on('close', () => this.remove(s));
    this.changed(this.subscribers.size);
    // A new page gets the view at once; a view built this tick is reused, so connecting in a loop costs no more.
    const now = this.now();
    if (!this.frame || now - this.builtAt >= this.limits.everyMs) this.build(now);
    this.send(s, now);
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.limits.everyMs);
      this.timer.unref();
    }
  }

  private remove(s: Subscriber): void {
    if (!this.subscribers.delete(s)) return;
    const n = (this.perClient.get(s.ip) ?? 1) - 1;
    if (n > 0) this.perClient.set(s.ip, n);
    else this.perClient.delete(s.ip);
    if (this.subscribers.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
    this.changed(this.subscribers.size);
  }

  /** Builds the event for `now`; whether its view differs from the last one built. */
  private build(now: number): boolean {
    const view = JSON.stringify(statusView(this.activity));
    const changed = view !== this.view;
    this.view = view;
    this.builtAt = now;
    this.frame = Buffer.from(`data: {"now":${now},"view":${view}}\n\n`);
    return changed;
  }

  private tick(): void {
    const now = this.now();
    if (!this.build(now) && now - this.sentAt < this.limits.heartbeatMs) return;
    this.sentAt = now;
    for (const s of this.subscribers) this.send(s, now);
  }

  private send(s: Subscriber, now: number): void {
    if (s.res.writableLength > this.limits.bufferedBytes) {
      s.behindSince ??= now;
      if (now - s.behindSince >= this.limits.behindMs) {
        this.dropped++;
        s.res.destroy();
        this.remove(s);
      }
      return;
    }
    s.behindSince = null;
    // One Buffer for every stream: Node queues it by reference, not as a copy per page.
    s.res.write(this.frame!);
  }
}

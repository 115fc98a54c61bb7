// What the gateway observes, in one place: transfers (live and recent, per
// client), the cache, canister queries, the release served and proxyDHCP
// offers. The metrics (gateway/metrics.ts) and the status page
// (gateway/status.ts) only read it. Recording is cheap: a live transfer is one
// object whose `bytes` field its server overwrites, and counters are numbers;
// everything kept about the past sits in fixed-size rings, and every text in
// them (paths clients chose, error messages) is cut to a fixed length.
import type { QueryKind, Snapshot } from './release.ts';
import type { TransferResult } from './tftp/server.ts';

export type Protocol = 'tftp' | 'http';
/** How a transfer ended, as metrics label it. */
export type { TransferResult } from './tftp/server.ts';

/** A transfer in progress; the server serving it keeps `bytes` (and `size`, once known) current. */
export interface LiveTransfer {
  readonly id: number;
  readonly protocol: Protocol;
  /** The client's IP address. */
  readonly client: string;
  readonly path: string;
  readonly started: number;
  size: number | null;
  bytes: number;
  end(result: TransferResult, detail: string): void;
}

export interface FinishedTransfer {
  protocol: Protocol;
  path: string;
  size: number | null;
  bytes: number;
  /** ms since the epoch. */
  started: number;
  ended: number;
  result: TransferResult;
  detail: string;
}

/** A client's recent transfers, newest last. */
export interface Boot {
  client: string;
  mac: string | null;
  last: number;
  files: FinishedTransfer[];
}

export interface RecentError {
  /** When it last happened, ms since the epoch. */
  at: number;
  text: string;
  /** How often it happened while it stayed among the recent errors. */
  times: number;
}

/** What the cache reports to whoever watches it. */
export interface CacheObserver {
  hit(tier: 'memory' | 'disk'): void;
  miss(): void;
  evicted(tier: 'memory' | 'disk'): void;
  retried(): void;
  integrityFailed(text: string): void;
}

/** Bytes held and allowed, per tier; read when asked. */
export interface CacheFill {
  memory: number;
  memoryLimit: number;
  disk: number;
  diskLimit: number;
}

export const LIMITS = { clients: 32, filesPerClient: 64, errors: 50, macs: 1024, pathChars: 256, textChars: 512 } as const;

/** `text` at most `max` characters, marked with `…` where it was cut. */
export function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Where durations of finished transfers and queries go (the metrics' histograms). */
export interface DurationSink {
  transferEnded(protocol: Protocol, result: TransferResult, seconds: number): void;
  queryEnded(kind: QueryKind, ok: boolean, seconds: number): void;
}

/** Keeps the newest `max` entries of a Map in insertion order, after touching `key`. */
function touch<K, V>(m: Map<K, V>, key: K, value: V, max: number): void {
  m.delete(key);
  m.set(key, value);
  if (m.size > max) m.delete(m.keys().next().value as K);
}

export class Activity implements CacheObserver {
  readonly live = new Map<number, LiveTransfer>();
  /** Per client IP, least recently active first. */
  readonly boots = new Map<string, Boot>();
  readonly errors: RecentError[] = [];
  private readonly macs = new Map<string, string>();
  private nextId = 1;
  /** Bytes of finished transfers, per protocol; live ones add theirs when read. */
  private readonly endedBytes: Record<Protocol, number> = { tftp: 0, http: 0 };
  readonly counts = {
    cacheHits: { memory: 0, disk: 0 }, cacheMisses: 0, evictions: { memory: 0, disk: 0 },
    retries: 0, integrityFailures: 0, offers: 0,
  };
  release: Snapshot | null = null;
  /** When the newest certificate verified was signed, ms since the epoch (polls refresh it even when the release stays). */
  certifiedAt: number | null = null;
  cacheFill: () => CacheFill = () => ({ memory: 0, memoryLimit: 0, disk: 0, diskLimit: 0 });
  durations: DurationSink | null = null;

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * A transfer starting. Every one is counted; a `refused` one (a path outside
   * the tree or malformed, a range the file does not hold) is not kept among
   * the client's boots, so probing the gateway does not fill them.
   */
  transfer(protocol: Protocol, client: string, requested: string): LiveTransfer {
    const id = this.nextId++;
    const path = cut(requested, LIMITS.pathChars);
    const t: LiveTransfer = {
      id, protocol, client, path, started: this.now(), size: null, bytes: 0,
      end: (result, full) => {
        if (!this.live.delete(id)) return;
        const ended = this.now();
        this.endedBytes[protocol] += t.bytes;
        this.durations?.transferEnded(protocol, result, (ended - t.started) / 1000);
        if (result === 'refused') return;
        const detail = cut(full, LIMITS.pathChars);
        const boot = this.boots.get(client) ?? { client, mac: null, last: ended, files: [] };
        boot.mac = this.macs.get(client) ?? boot.mac;
        boot.last = ended;
        boot.files.push({ protocol, path, size: t.size, bytes: t.bytes, started: t.started, ended, result, detail });
        if (boot.files.length > LIMITS.filesPerClient) boot.files.shift();
        touch(this.boots, client, boot, LIMITS.clients);
        if (result === 'failed') this.error(`${protocol} ${client} ${path}: ${detail}`);
      },
    };
    this.live.set(id, t);
    return t;
  }

  /** Bytes served so far, live transfers included. */
  bytesServed(protocol: Protocol): number {
    let n = this.endedBytes[protocol];
    for (const t of this.live.values()) if (t.protocol === protocol) n += t.bytes;
    return n;
  }

  /** The MAC address a client at `ip` gave (in a proxyDHCP request or an iPXE query). */
  mac(ip: string, mac: string): void {
    touch(this.macs, ip, mac.toLowerCase(), LIMITS.macs);
    const boot = this.boots.get(ip);
    if (boot) boot.mac = mac.toLowerCase();
  }

  macOf(ip: string): string | null {
    return this.macs.get(ip) ?? null;
  }

  offered(ip: string | null, mac: string | null): void {
    this.counts.offers++;
    if (ip && mac) this.mac(ip, mac);
  }

  /** Records an error; one already among the recent errors moves to the newest place, counted again. */
  error(full: string): void {
    const text = cut(full, LIMITS.textChars);
    const i = this.errors.findIndex((e) => e.text === text);
    const times = i < 0 ? 1 : this.errors.splice(i, 1)[0].times + 1;
    this.errors.push({ at: this.now(), text, times });
    if (this.errors.length > LIMITS.errors) this.errors.shift();
  }

  served(s: Snapshot): void {
    this.release = s;
    this.certified(s.certifiedAt);
  }

  certified(at: number): void {
    if (this.certifiedAt === null || at > this.certifiedAt) this.certifiedAt = at;
  }

  /** Runs one canister query, timed and counted. */
  async query<T>(kind: QueryKind, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const r = await work();
      this.durations?.queryEnded(kind, true, (performance.now() - started) / 1000);
      return r;
    } catch (e) {
      this.durations?.queryEnded(kind, false, (performance.now() - started) / 1000);
      throw e;
    }
  }

  hit(tier: 'memory' | 'disk'): void {
    this.counts.cacheHits[tier]++;
  }

  miss(): void {
    this.counts.cacheMisses++;
  }

  evicted(tier: 'memory' | 'disk'): void {
    this.counts.evictions[tier]++;
  }

  retried(): void {
    this.counts.retries++;
  }

  integrityFailed(text: string): void {
    this.counts.integrityFailures++;
    this.error(`integrity: ${text}`);
  }
}

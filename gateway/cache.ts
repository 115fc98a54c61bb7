// Verified chunks by SHA-256: a memory LRU with a byte budget, an optional
// content-addressed disk cache (re-verified on every read, size-bounded), and
// single-flight fetching, so a hundred clients asking for one chunk cost one
// query. Nothing enters the cache unverified. Chunks are held in shared
// memory, for the TFTP worker threads.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { IntegrityError } from '../client/errors.ts';
import { writeAtomic } from '../common/write_atomic.ts';
import { retry } from '../client/retry.ts';
import type { CacheFill, CacheObserver } from './activity.ts';
import type { LogThrottle } from './log.ts';

export interface CacheOptions {
  memBytes: number;
  /** Directory of the disk cache; none when undefined. */
  dir?: string;
  diskBytes: number;
  /** Fetches and verifies a chunk (e.g. VerifiedReader.chunk). */
  fetch: (hash: string) => Promise<Uint8Array>;
  /** A chunk not had within this long (all attempts together) fails like an unreachable canister. */
  fetchTimeoutMs: number;
  log: (line: string) => void;
  /** For lines that can repeat for every chunk of every transfer (read-ahead and disk failures); the gateway's is `new LogThrottle(log)`. */
  notices: LogThrottle;
  /** Told of hits, misses, evictions, retries and integrity failures (the gateway's Activity). */
  observer?: CacheObserver;
}

const unobserved: CacheObserver = { hit: () => {}, miss: () => {}, evicted: () => {}, retried: () => {}, integrityFailed: () => {} };

const sha256hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A copy in shared memory: TFTP worker threads read cached chunks without copying them (gateway/tftp/workers.ts). */
function shared(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(new SharedArrayBuffer(b.length));
  out.set(b);
  return out;
}

export class ChunkCache {
  /** Map order is recency order: the first entry is the least recently used. */
  private readonly mem = new Map<string, Uint8Array>();
  private memUsed = 0;
  private readonly disk = new Map<string, number>();
  private diskUsed = 0;
  private readonly inflight = new Map<string, Promise<Uint8Array>>();
  private readonly observer: CacheObserver;

  constructor(private readonly o: CacheOptions) {
    this.observer = o.observer ?? unobserved;
    if (o.dir) this.scanDisk(o.dir);
  }

  /** Bytes held and allowed in memory and on disk. */
  get fill(): CacheFill {
    return { memory: this.memUsed, memoryLimit: this.o.memBytes, disk: this.diskUsed, diskLimit: this.o.dir ? this.o.diskBytes : 0 };
  }

  get(hash: string): Promise<Uint8Array> {
    const hit = this.mem.get(hash);
    if (hit) {
      this.mem.delete(hash);
      this.mem.set(hash, hit);
      this.observer.hit('memory');
      return Promise.resolve(hit);
    }
    const pending = this.inflight.get(hash);
    if (pending) {
      this.observer.miss();
      return pending;
    }
    const p = this.load(hash).finally(() => this.inflight.delete(hash));
    this.inflight.set(hash, p);
    return p;
  }

  /** Whether the caches have room for `bytes` more without evicting. */
  hasRoomFor(bytes: number): boolean {
    return this.memUsed + bytes <= this.o.memBytes || (this.o.dir !== undefined && this.diskUsed + bytes <= this.o.diskBytes);
  }

  /**
   * Starts loading a chunk that will be needed soon. A failure is not kept, so
   * the get() that needs the chunk fetches it anew and its caller reports what
   * fails then. The failure is logged (throttled) all the same: the chunk may
   * never be asked for (the transfer ended), and an operator should see a
   * failing canister before a boot fails on it.
   */
  prefetch(hash: string): void {
    if (this.mem.has(hash) || this.inflight.has(hash)) return;
    this.get(hash).catch((e: Error) => this.o.notices.line('read-ahead', `cache: read-ahead of chunk ${hash} failed: ${e.message}`));
  }

  private async load(hash: string): Promise<Uint8Array> {
    const fromDisk = this.readDisk(hash);
    if (fromDisk) {
      this.observer.hit('disk');
      this.remember(hash, fromDisk);
      return fromDisk;
    }
    this.observer.miss();
    let tries = 0;
    const attempt = async (): Promise<Uint8Array> => {
      if (++tries > 1) this.observer.retried();
      try {
        const data = await this.o.fetch(hash);
        // The fetcher verifies; check again here, as the cache is where trust is kept.
        if (sha256hex(data) !== hash) throw new IntegrityError(`chunk ${hash} does not match its hash`);
        return data;
      } catch (e) {
        if (e instanceof IntegrityError) {
          this.o.log(`integrity: ${e.message} (attempt ${tries})`);
          this.observer.integrityFailed(e.message);
        }
        throw e;
      }
    };
    const data = shared(await retry(attempt, { timeoutMs: this.o.fetchTimeoutMs, what: `chunk ${hash}` }));
    this.remember(hash, data);
    this.writeDisk(hash, data);
    return data;
  }

  private remember(hash: string, data: Uint8Array): void {
    if (data.length > this.o.memBytes) return;
    this.mem.set(hash, data);
    this.memUsed += data.length;
    for (const [k, v] of this.mem) {
      if (this.memUsed <= this.o.memBytes) break;
      this.mem.delete(k);
      this.memUsed -= v.length;
      this.observer.evicted('memory');
    }
  }

  private path(hash: string): string {
    return join(this.o.dir!, hash.slice(0, 2), hash);
  }

  private scanDisk(dir: string): void {
    mkdirSync(dir, { recursive: true });
    const found: { hash: string; size: number; mtime: number }[] = [];
    for (const sub of readdirSync(dir)) {
      if (!/^[0-9a-f]{2}$/.test(sub)) continue;
      for (const name of readdirSync(join(dir, sub))) {
        if (!/^[0-9a-f]{64}$/.test(name)) continue;
        const st = statSync(join(dir, sub, name));
        found.push({ hash: name, size: st.size, mtime: st.mtimeMs });
      }
    }
    for (const f of found.sort((a, b) => a.mtime - b.mtime)) {
      this.disk.set(f.hash, f.size);
      this.diskUsed += f.size;
    }
    this.trimDisk();
  }

  private readDisk(hash: string): Uint8Array | null {
    if (!this.o.dir || !this.disk.has(hash)) return null;
    let data: Uint8Array;
    try {
      data = shared(readFileSync(this.path(hash)));
    } catch (e) {
      this.o.notices.line('disk read', `cache: cannot read ${this.path(hash)}: ${(e as Error).message}; fetching it from the canister`);
      this.dropDisk(hash);
      return null;
    }
    if (sha256hex(data) !== hash) {
      this.o.log(`integrity: disk cache entry ${hash} is corrupt; removed`);
      this.observer.integrityFailed(`disk cache entry ${hash} is corrupt; removed`);
      this.dropDisk(hash);
      return null;
    }
    this.disk.delete(hash);
    this.disk.set(hash, data.length);
    return data;
  }

  private writeDisk(hash: string, data: Uint8Array): void {
    if (!this.o.dir || this.disk.has(hash) || data.length > this.o.diskBytes) return;
    try {
      mkdirSync(join(this.o.dir, hash.slice(0, 2)), { recursive: true });
      writeAtomic(this.path(hash), data);
      this.disk.set(hash, data.length);
      this.diskUsed += data.length;
      this.trimDisk();
    } catch (e) {
      // A full disk fails every write: one line per period, not one per chunk.
      this.o.notices.line('disk write', `cache: cannot write ${this.path(hash)}: ${(e as Error).message}`);
    }
  }

  private trimDisk(): void {
    for (const hash of this.disk.keys()) {
      if (this.diskUsed <= this.o.diskBytes) break;
      this.dropDisk(hash);
      this.observer.evicted('disk');
    }
  }

  private dropDisk(hash: string): void {
    const size = this.disk.get(hash);
    if (size === undefined) return;
    this.disk.delete(hash);
    this.diskUsed -= size;
    try {
      rmSync(this.path(hash), { force: true });
    } catch (e) {
      // Not fatal to the read or write that evicted it; the next start counts the file again.
      this.o.notices.line('disk remove', `cache: cannot remove ${this.path(hash)}: ${(e as Error).message}`);
    }
  }
}

// A canister's log as a replica keeps it: the debug prints and trap messages of
// replicated execution, numbered by a never-reset index and stamped with the
// message time, in a buffer of `log_memory_limit` bytes that drops the oldest
// records first. Sizes are counted as the replica counts them (a 40-byte record
// header plus the content), so what is kept matches a replica byte for byte.
import { existsSync, readFileSync } from 'node:fs';
import { writeAtomic } from '../common/write_atomic.ts';

/** The replica's per-record overhead: idx and timestamp (8 bytes each) and the content's Vec header (24). */
export const RECORD_OVERHEAD = 40;
/** A record never takes more than this, header included; longer content is cut. */
export const MAX_RECORD_BYTES = 4 * 1024;
/** The replica's default log_memory_limit. */
export const DEFAULT_LOG_MEMORY_LIMIT = 4n * 1024n;
/** The smallest buffer a non-zero limit gets (one OS page). */
export const MIN_LOG_MEMORY_LIMIT = 4n * 1024n;
/** The largest log_memory_limit a canister may set. */
export const MAX_LOG_MEMORY_LIMIT = 2n * 1024n * 1024n;

export interface LogRecord {
  idx: bigint;
  timestampNanos: bigint;
  content: Uint8Array;
}

/** fetch_canister_logs' filter: a half-open range of indexes or of timestamps. */
export type LogFilter =
  | { by_idx: { start: bigint; end: bigint } }
  | { by_timestamp_nanos: { start: bigint; end: bigint } };

interface Stored {
  nextIdx: string;
  records: { idx: string; timestampNanos: string; content: string }[];
}

const recordBytes = (r: LogRecord): number => RECORD_OVERHEAD + r.content.length;

/** The buffer size a log_memory_limit gives: none at 0, at least one page otherwise. */
export function logCapacity(limit: bigint): number {
  if (limit === 0n) return 0;
  return Number(limit < MIN_LOG_MEMORY_LIMIT ? MIN_LOG_MEMORY_LIMIT : limit);
}

export class CanisterLog {
  private records: LogRecord[] = [];
  private nextIdx = 0n;
  private used = 0;

  /** The log persisted at `file`, or an empty one; `capacity` bytes at most are kept. */
  constructor(private readonly file: string, private capacity: number) {
    if (!existsSync(file)) return;
    const s = JSON.parse(readFileSync(file, 'utf8')) as Stored;
    this.nextIdx = BigInt(s.nextIdx);
    for (const r of s.records) {
      this.push({ idx: BigInt(r.idx), timestampNanos: BigInt(r.timestampNanos), content: new Uint8Array(Buffer.from(r.content, 'base64')) });
    }
  }

  /** Bytes the kept records take, as canister_status reports log_memory_store_size. */
  get bytesUsed(): number {
    return this.used;
  }

  /** Adds records in order, each with the next index; nothing is kept when the capacity is 0. */
  append(entries: { timestampNanos: bigint; content: Uint8Array }[]): void {
    if (entries.length === 0) return;
    for (const e of entries) {
      const room = Math.min(this.capacity, MAX_RECORD_BYTES) - RECORD_OVERHEAD;
      const idx = this.nextIdx++;
      if (room < 0) continue;
      this.push({ idx, timestampNanos: e.timestampNanos, content: e.content.slice(0, room) });
    }
    this.save();
  }

  /** Resizes the buffer; shrinking drops the oldest records that no longer fit. */
  resize(capacity: number): void {
    if (capacity === this.capacity) return;
    this.capacity = capacity;
    this.evict(0);
    this.save();
  }

  /** Drops every record; indexes keep counting from where they were. */
  clear(): void {
    this.records = [];
    this.used = 0;
    this.save();
  }

  /** The kept records, oldest first, narrowed by `filter` when given. */
  read(filter?: LogFilter): LogRecord[] {
    if (!filter) return [...this.records];
    const [range, key] = 'by_idx' in filter
      ? [filter.by_idx, (r: LogRecord) => r.idx]
      : [filter.by_timestamp_nanos, (r: LogRecord) => r.timestampNanos];
    return this.records.filter((r) => key(r) >= range.start && key(r) < range.end);
  }

  private push(r: LogRecord): void {
    this.evict(recordBytes(r));
    if (recordBytes(r) > this.capacity) return;
    this.records.push(r);
    this.used += recordBytes(r);
  }

  /** Drops the oldest records until `incoming` more bytes fit. */
  private evict(incoming: number): void {
    while (this.records.length > 0 && this.used + incoming > this.capacity) {
      this.used -= recordBytes(this.records.shift()!);
    }
  }

  private save(): void {
    const s: Stored = {
      nextIdx: this.nextIdx.toString(),
      records: this.records.map((r) => ({
        idx: r.idx.toString(), timestampNanos: r.timestampNanos.toString(), content: Buffer.from(r.content).toString('base64'),
      })),
    };
    writeAtomic(this.file, JSON.stringify(s) + '\n');
  }
}

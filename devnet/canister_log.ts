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
/** The most content a record keeps: the start of a longer print. */
export const MAX_RECORD_CONTENT = MAX_RECORD_BYTES - RECORD_OVERHEAD;
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

/**
 * Records oldest first, `capacity` bytes of them at most: each is cut to what
 * one record may hold, and a new one pushes out the oldest. The dropped are
 * let go at once (a head offset, not Array.shift, so a full buffer stays cheap).
 */
class RecordBuffer {
  private records: (LogRecord | undefined)[] = [];
  private head = 0;
  private used = 0;

  constructor(public capacity: number) {}

  get bytes(): number {
    return this.used;
  }

  list(): LogRecord[] {
    return this.records.slice(this.head) as LogRecord[];
  }

  push(r: LogRecord): void {
    const room = Math.min(this.capacity - RECORD_OVERHEAD, MAX_RECORD_CONTENT);
    if (room < 0) return;
    const kept = r.content.length > room ? { ...r, content: r.content.slice(0, room) } : r;
    this.evict(recordBytes(kept));
    this.records.push(kept);
    this.used += recordBytes(kept);
  }

  resize(capacity: number): void {
    this.capacity = capacity;
    this.evict(0);
  }

  clear(): void {
    this.records = [];
    this.head = 0;
    this.used = 0;
  }

  /** Drops the oldest records until `incoming` more bytes fit. */
  private evict(incoming: number): void {
    while (this.head < this.records.length && this.used + incoming > this.capacity) {
      this.used -= recordBytes(this.records[this.head]!);
      this.records[this.head++] = undefined;
    }
    if (this.head > 1024 && this.head * 2 > this.records.length) {
      this.records = this.records.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * The records one message adds, as the replica's delta log keeps them: numbered
 * on from the log's next index as they come, and bounded like the log, so a
 * message that prints without end holds no more than the log could keep.
 */
export class LogDelta {
  private readonly buffer: RecordBuffer;

  constructor(private next: bigint, capacity: number) {
    this.buffer = new RecordBuffer(capacity);
  }

  /** The index the record after these takes; dropped records used theirs. */
  get nextIdx(): bigint {
    return this.next;
  }

  get records(): LogRecord[] {
    return this.buffer.list();
  }

  /** Bytes the kept records take. */
  get bytes(): number {
    return this.buffer.bytes;
  }

  add(timestampNanos: bigint, content: Uint8Array): void {
    this.buffer.push({ idx: this.next++, timestampNanos, content });
  }
}

export class CanisterLog {
  private readonly buffer: RecordBuffer;
  private nextIdx = 0n;

  /** The log persisted at `file`, or an empty one; `capacity` bytes at most are kept. */
  constructor(private readonly file: string, capacity: number) {
    this.buffer = new RecordBuffer(capacity);
    if (!existsSync(file)) return;
    const s = JSON.parse(readFileSync(file, 'utf8')) as Stored;
    this.nextIdx = BigInt(s.nextIdx);
    for (const r of s.records) {
      this.buffer.push({ idx: BigInt(r.idx), timestampNanos: BigInt(r.timestampNanos), content: new Uint8Array(Buffer.from(r.content, 'base64')) });
    }
  }

  /** Bytes the kept records take, as canister_status reports log_memory_store_size. */
  get bytesUsed(): number {
    return this.buffer.bytes;
  }

  /** An empty delta for the next message's records. */
  delta(): LogDelta {
    return new LogDelta(this.nextIdx, this.buffer.capacity);
  }

  /** Takes a message's records, and counts on from its last index; nothing is kept when the capacity is 0. */
  append(delta: LogDelta): void {
    if (delta.nextIdx === this.nextIdx) return;
    for (const r of delta.records) this.buffer.push(r);
    this.nextIdx = delta.nextIdx;
    this.save();
  }

  /** Resizes the buffer; shrinking drops the oldest records that no longer fit. */
  resize(capacity: number): void {
    if (capacity === this.buffer.capacity) return;
    this.buffer.resize(capacity);
    this.save();
  }

  /** Drops every record; indexes keep counting from where they were. */
  clear(): void {
    this.buffer.clear();
    this.save();
  }

  /** The kept records, oldest first, narrowed by `filter` when given. */
  read(filter?: LogFilter): LogRecord[] {
    const records = this.buffer.list();
    if (!filter) return records;
    const [range, key] = 'by_idx' in filter
      ? [filter.by_idx, (r: LogRecord) => r.idx]
      : [filter.by_timestamp_nanos, (r: LogRecord) => r.timestampNanos];
    return records.filter((r) => key(r) >= range.start && key(r) < range.end);
  }

  private save(): void {
    const s: Stored = {
      nextIdx: this.nextIdx.toString(),
      records: this.buffer.list().map((r) => ({
        idx: r.idx.toString(), timestampNanos: r.timestampNanos.toString(), content: Buffer.from(r.content).toString('base64'),
      })),
    };
    writeAtomic(this.file, JSON.stringify(s) + '\n');
  }
}

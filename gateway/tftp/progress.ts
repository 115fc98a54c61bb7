// A transfer's progress as the thread admitting transfers judges it: bytes
// the client acknowledged and time spent waiting on it. Kept in a Float64Array
// on a SharedArrayBuffer, so a transfer served by a worker thread
// (gateway/tftp/workers.ts) is judged without a message per packet.

/** A transfer's rate is judged only after it has waited this long on its client. */
const JUDGE_AFTER_MS = 2000;

const ACKED = 0;
const WAITED = 1;
/** Since when the transfer has been waiting on its client, or NaN while it is not. */
const SINCE = 2;
/** 1 once the transfer has ended: its slot is free before the thread admitting transfers hears of the end. */
const ENDED = 3;

// Each thread's performance.now() counts from that thread's start, and its timeOrigin is the wall clock
// then, which may have been stepped since; the monotonic clock is one for all threads.
const origin = Number(process.hrtime.bigint()) / 1e6 - performance.now();

/** Milliseconds on a monotonic clock that every thread of the process reads alike. */
export const now = (): number => origin + performance.now();

export class Progress {
  readonly cells: Float64Array;

  constructor(shared?: SharedArrayBuffer) {
    this.cells = new Float64Array(shared ?? new SharedArrayBuffer(4 * Float64Array.BYTES_PER_ELEMENT));
    if (!shared) this.cells[SINCE] = NaN;
  }

  get shared(): SharedArrayBuffer {
    return this.cells.buffer as SharedArrayBuffer;
  }

  get ended(): boolean {
    return this.cells[ENDED] === 1;
  }

  end(): void {
    this.cells[ENDED] = 1;
  }

  /** Bytes the client has acknowledged. */
  get acked(): number {
    return this.cells[ACKED];
  }

  /** The client acknowledged `bytes` more at `at`; from then on it is waited on again. */
  acknowledged(bytes: number, at: number): void {
    const c = this.cells;
    c[ACKED] += bytes;
    if (!Number.isNaN(c[SINCE])) c[WAITED] += at - c[SINCE];
    c[SINCE] = at;
  }

  /** Waiting on the client from `at` (if not already), or not waiting on it (null: waiting on the source). */
  waiting(at: number | null): void {
    const c = this.cells;
    if (at === null) c[SINCE] = NaN;
    else if (Number.isNaN(c[SINCE])) c[SINCE] = at;
  }

  /** Bytes/s acknowledged per second spent waiting on the client; null until there is enough to judge. */
  clientRate(at: number): number | null {
    const c = this.cells;
    const waited = c[WAITED] + (Number.isNaN(c[SINCE]) ? 0 : at - c[SINCE]);
    return waited < JUDGE_AFTER_MS ? null : (c[ACKED] * 1000) / waited;
  }
}

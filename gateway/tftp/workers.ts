// Where admitted transfers run. In this thread, or spread over worker threads:
// one JavaScript thread costs a lock-step transfer an event-loop turn per
// block, and under a boot storm that thread, not the network, is the limit.
// A worker owns its transfers' sockets and timers; this thread keeps the
// handler and the sources, and passes each transfer its source's pieces on
// request. Cached chunks live in SharedArrayBuffers (gateway/cache.ts), so a
// piece reaches a worker without a copy; progress is shared the same way
// (gateway/tftp/progress.ts), so nothing crosses threads per packet.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { Progress } from './progress.ts';
import { TftpError, type Client, type Handler } from './source.ts';
import { Transfer, type TransferLimits, type TransferRecord, type TransferRequest } from './transfer.ts';
import { ERR } from './packet.ts';
import type { FromWorker, ToWorker, WorkerSetup } from './worker_messages.ts';

/** A running transfer, as whoever admitted it can act on it. */
export interface Running {
  abort(reason: string): void;
}

export interface TransferRunner {
  /** Starts a transfer; `done` is called once, when it has ended. */
  start(request: TransferRequest, open: Handler, progress: Progress, done: (r: TransferRecord) => void): Running;
  /** Settles once every worker has started (or failed to), so that the first transfers run where they are meant to. */
  ready(): Promise<void>;
  /** Stops the workers, if any; transfers should have been aborted first. */
  close(): Promise<void>;
}

/** Worker threads for a machine: one per core. */
export const defaultWorkers = (): number => availableParallelism();

/** Runs transfers on this thread (tests, and `--tftp-workers 0`). */
export function inThisThread(limits: TransferLimits, log: (line: string) => void): TransferRunner {
  const o = { ...limits, log };
  return {
    start(request, open, progress, done) {
      const t = new Transfer(o, request, open, progress, done);
      void t.start();
      return t;
    },
    ready: async () => {},
    close: async () => {},
  };
}

/** How long close() lets workers send their transfers' final ERRORs before it stops them. */
const CLOSE_GRACE_MS = 1000;

/** A transfer on a worker, as this thread serves its source. */
interface Remote {
  open: Handler;
  client: Client;
  path: string;
  done: (r: TransferRecord) => void;
  pieces: AsyncIterator<Uint8Array> | null;
}

/** A piece a worker can be handed without copying its whole backing buffer: shared memory goes as is, the rest as an exact copy. */
function shareable(bytes: Uint8Array): Uint8Array {
  // A copy of its own (Buffer.slice() would be a view): its buffer is handed to the worker, not shared.
  return bytes.buffer instanceof SharedArrayBuffer ? bytes : new Uint8Array(bytes);
}

function failure(e: unknown): { code: number; message: string } {
  return { code: e instanceof TftpError ? e.code : ERR.UNDEFINED, message: e instanceof Error ? e.message : String(e) };
}

/** A worker that stopped this soon after it started counts as failing to start, and is respawned later each time. */
const STAYED_UP_MS = 10_000;
const RESPAWN_MAX_MS = 60_000;

class TransferWorker {
  readonly remotes = new Map<number, Remote>();
  private worker: Worker | null = null;
  private online = false;
  private startedAt = 0;
  private failures = 0;
  private respawn: NodeJS.Timeout | null = null;
  private closing = false;
  /** Settles when the first worker is online or has stopped. */
  readonly started: Promise<void>;
  private settleStarted: () => void = () => {};

  constructor(private readonly setup: WorkerSetup, private readonly log: (line: string) => void) {
    this.started = new Promise((resolve) => {
      this.settleStarted = resolve;
    });
    this.spawn();
  }

  /** Whether it is running and can take a transfer. */
  get alive(): boolean {
    return this.online;
  }

  private spawn(): void {
    this.respawn = null;
    const w = new Worker(new URL('./worker_entry.js', import.meta.url), { workerData: this.setup });
    this.worker = w;
    this.startedAt = Date.now();
    // A gateway ends on a signal or close(); its workers must not hold a test's process open.
    w.unref();
    w.on('online', () => {
      this.online = true;
      this.settleStarted();
    });
    w.on('message', (m: FromWorker) => this.onMessage(m));
    w.on('error', (e) => this.log(`tftp: a transfer worker failed: ${e.message}`));
    w.on('exit', () => {
      if (this.worker !== w) return;
      this.worker = null;
      this.online = false;
      this.settleStarted();
      if (this.closing) return;
      // Its transfers are gone with it: end them here, and serve new ones on a fresh worker,
      // at once after a long life, later and later if it keeps failing to start.
      for (const id of [...this.remotes.keys()]) this.finish(id, 'transfer worker stopped');
      this.failures = Date.now() - this.startedAt >= STAYED_UP_MS ? 0 : this.failures + 1;
      const delay = this.failures === 0 ? 0 : Math.min(RESPAWN_MAX_MS, 1000 * 2 ** (this.failures - 1));
      this.log(`tftp: a transfer worker stopped; starting another${delay ? ` in ${delay / 1000} s` : ''}`);
      this.respawn = setTimeout(() => this.spawn(), delay);
      this.respawn.unref();
    });
  }

  post(m: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.worker?.postMessage(m, transfer);
  }

  start(id: number, request: TransferRequest, open: Handler, progress: Progress, done: (r: TransferRecord) => void): void {
    this.remotes.set(id, { open, client: request.client, path: request.path, done, pieces: null });
    const { local, client, path, ascii, options } = request;
    this.post({ t: 'start', id, request: { local, client, path, ascii, options: [...options] }, progress: progress.shared });
  }

  private onMessage(m: FromWorker): void {
    switch (m.t) {
      case 'open': return void this.open(m.id);
      case 'next': return void this.next(m.id);
      case 'close': return this.closeSource(m.id);
      case 'log': return this.log(m.line);
      case 'finished': {
        const r = this.remotes.get(m.id);
        if (!r) return;
        this.remotes.delete(m.id);
        this.closeSource(m.id, r);
        r.done(m.record);
        return;
      }
    }
  }

  private async open(id: number): Promise<void> {
    const r = this.remotes.get(id);
    if (!r) return;
    try {
      const source = await r.open(r.path, r.client);
      const pieces = source.stream[Symbol.asyncIterator]();
      if (this.remotes.get(id) !== r) {
        // Ended while the handler answered.
        void pieces.return?.()?.catch(() => {});
        return;
      }
      r.pieces = pieces;
      this.post({ t: 'opened', id, size: source.size });
    } catch (e) {
      this.post({ t: 'openFailed', id, ...failure(e) });
    }
  }

  private async next(id: number): Promise<void> {
    const pieces = this.remotes.get(id)?.pieces;
    if (!pieces) return;
    try {
      const r = await pieces.next();
      if (r.done) return this.post({ t: 'end', id });
      const bytes = shareable(r.value);
      // A copy made for the worker is handed over, not copied again.
      this.post({ t: 'piece', id, bytes }, bytes === r.value ? [] : [bytes.buffer as ArrayBuffer]);
    } catch (e) {
      this.post({ t: 'pieceFailed', id, ...failure(e) });
    }
  }

  private closeSource(id: number, r = this.remotes.get(id)): void {
    const pieces = r?.pieces;
    if (!r || !pieces) return;
    r.pieces = null;
    void pieces.return?.()?.catch((e: unknown) => this.log(`tftp ${r.client.address}:${r.client.port}: cannot close its source: ${failure(e).message}`));
  }

  /** Ends a transfer the worker can no longer report on. */
  finish(id: number, why: string): void {
    const r = this.remotes.get(id);
    if (!r) return;
    this.remotes.delete(id);
    this.closeSource(id, r);
    r.done({
      client: `${r.client.address}:${r.client.port}`, path: r.path, bytes: 0, seconds: 0, blksize: 0, windowsize: 0, packets: 0,
      result: why, outcome: 'failed',
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.respawn) clearTimeout(this.respawn);
    const w = this.worker;
    if (w) {
      // Aborted transfers send their final ERROR before their sockets close; give that a moment.
      await new Promise<void>((resolve) => {
        const check = (): void => {
          if (this.remotes.size > 0) return;
          finish();
        };
        const finish = (): void => {
          clearTimeout(timer);
          w.off('message', check);
          resolve();
        };
        const timer = setTimeout(finish, CLOSE_GRACE_MS);
        w.on('message', check);
        check();
      });
    }
    for (const id of [...this.remotes.keys()]) this.finish(id, 'server shutting down');
    await w?.terminate();
  }
}

export class TransferWorkers implements TransferRunner {
  private readonly workers: TransferWorker[];
  /** Where transfers run while no worker is (starting, or failing to start). */
  private readonly fallback: TransferRunner;
  private nextId = 1;

  constructor(count: number, limits: TransferLimits, log: (line: string) => void) {
    this.workers = Array.from({ length: count }, () => new TransferWorker({ limits }, log));
    this.fallback = inThisThread(limits, log);
  }

  start(request: TransferRequest, open: Handler, progress: Progress, done: (r: TransferRecord) => void): Running {
    const alive = this.workers.filter((w) => w.alive);
    if (alive.length === 0) return this.fallback.start(request, open, progress, done);
    // The least busy worker; transfers of a storm are alike, so counts balance the load.
    const w = alive.reduce((a, b) => (b.remotes.size < a.remotes.size ? b : a));
    const id = this.nextId++;
    w.start(id, request, open, progress, done);
    return { abort: (reason) => w.post({ t: 'abort', id, reason }) };
  }

  async ready(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.started));
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
  }
}

// A transfer worker thread (gateway/tftp/workers.ts): runs the transfers it is
// given, and reads their sources from the thread that admitted them.
import { parentPort, workerData } from 'node:worker_threads';
import { Progress } from './progress.ts';
import { TftpError, type Handler } from './source.ts';
import { Transfer } from './transfer.ts';
import type { FromWorker, ToWorker, WorkerSetup } from './worker_messages.ts';

const port = parentPort!;
const { limits } = workerData as WorkerSetup;
const post = (m: FromWorker): void => port.postMessage(m);
const log = (line: string): void => post({ t: 'log', line });

interface Waiter<T> {
  resolve(v: T): void;
  reject(e: Error): void;
}

/** A transfer's source, read piece by piece from the admitting thread, one piece asked ahead. */
class RemotePieces implements AsyncIterator<Uint8Array> {
  private readonly waiting: Waiter<IteratorResult<Uint8Array>>[] = [];
  private readonly ready: Promise<IteratorResult<Uint8Array>>[] = [];
  private ended = false;

  constructor(private readonly id: number) {}

  next(): Promise<IteratorResult<Uint8Array>> {
    if (this.ready.length === 0) this.ask();
    const result = this.ready.shift()!;
    this.ask();
    return result;
  }

  private ask(): void {
    if (this.ended) {
      this.ready.push(Promise.resolve({ done: true, value: undefined }));
      return;
    }
    const piece = new Promise<IteratorResult<Uint8Array>>((resolve, reject) => this.waiting.push({ resolve, reject }));
    // A piece asked ahead may fail before anyone awaits it (a canister outage): that must not end the thread.
    piece.catch(() => {});
    this.ready.push(piece);
    post({ t: 'next', id: this.id });
  }

  answered(m: ToWorker & { t: 'piece' | 'end' | 'pieceFailed' }): void {
    const w = this.waiting.shift();
    if (m.t === 'end') this.ended = true;
    // Whatever follows an end or a failure is an answer to a request asked ahead: ignored.
    if (!w) return;
    if (m.t === 'piece') w.resolve({ done: false, value: m.bytes });
    else if (m.t === 'end') w.resolve({ done: true, value: undefined });
    else w.reject(new TftpError(m.code, m.message));
  }

  async return(): Promise<IteratorResult<Uint8Array>> {
    this.ended = true;
    post({ t: 'close', id: this.id });
    return { done: true, value: undefined };
  }
}

interface Local {
  transfer: Transfer | null;
  opening: Waiter<number> | null;
  pieces: RemotePieces;
}

const transfers = new Map<number, Local>();

port.on('message', (m: ToWorker) => {
  const local = transfers.get(m.id);
  switch (m.t) {
    case 'start': {
      const me: Local = { transfer: null, opening: null, pieces: new RemotePieces(m.id) };
      const open: Handler = async () => {
        const size = await new Promise<number>((resolve, reject) => {
          me.opening = { resolve, reject };
          post({ t: 'open', id: m.id });
        });
        return { size, stream: { [Symbol.asyncIterator]: () => me.pieces } };
      };
      const request = { ...m.request, options: new Map(m.request.options) };
      me.transfer = new Transfer({ ...limits, log }, request, open, new Progress(m.progress), (record) => {
        transfers.delete(m.id);
        post({ t: 'finished', id: m.id, record });
      });
      transfers.set(m.id, me);
      void me.transfer.start();
      return;
    }
    case 'abort': return local?.transfer?.abort(m.reason);
    case 'opened': return local?.opening?.resolve(m.size);
    case 'openFailed': return local?.opening?.reject(new TftpError(m.code, m.message));
    case 'piece':
    case 'end':
    case 'pieceFailed':
      return local?.pieces.answered(m);
  }
});

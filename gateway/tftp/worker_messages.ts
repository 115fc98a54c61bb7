// What the thread admitting transfers and a transfer worker say to each other
// (gateway/tftp/workers.ts, gateway/tftp/worker.ts).
import type { Client } from './source.ts';
import type { TransferLimits, TransferRecord } from './transfer.ts';

export interface WorkerSetup {
  limits: TransferLimits;
}

/** A failure of the handler or the source, as a TFTP error code and a message. */
interface Failure {
  code: number;
  message: string;
}

export type ToWorker =
  | { t: 'start'; id: number; request: { local: string; client: Client; path: string; ascii: boolean; options: [string, string][] }; progress: SharedArrayBuffer }
  | { t: 'abort'; id: number; reason: string }
  | { t: 'opened'; id: number; size: number }
  | ({ t: 'openFailed'; id: number } & Failure)
  | { t: 'piece'; id: number; bytes: Uint8Array }
  | { t: 'end'; id: number }
  | ({ t: 'pieceFailed'; id: number } & Failure);

export type FromWorker =
  | { t: 'open'; id: number }
  | { t: 'next'; id: number }
  | { t: 'close'; id: number }
  | { t: 'log'; line: string }
  | { t: 'finished'; id: number; record: TransferRecord };

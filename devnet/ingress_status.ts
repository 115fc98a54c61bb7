// The status of ingress calls, as read_state reports it: processing, then the
// result, kept until no agent can still ask. A replayed request id is not run
// again; its caller waits for the first one's result.
import type { CallResult } from './call_result.ts';

/** How long answered requests stay readable with read_state. */
const REQUEST_STATUS_TTL_MS = 6 * 60_000;

interface RequestStatus {
  sender: string;
  state: 'processing' | 'done';
  result?: CallResult;
  at: number;
  waiters: ((r: CallResult) => void)[];
}

export class IngressStatus {
  private readonly statuses = new Map<string, RequestStatus>();

  /** Records a new request; `fresh` is false for a request id already seen. */
  open(requestId: string, sender: string): { fresh: boolean; done: Promise<CallResult> } {
    const known = this.statuses.get(requestId);
    if (known) {
      return { fresh: false, done: known.result ? Promise.resolve(known.result) : new Promise((resolve) => known.waiters.push(resolve)) };
    }
    const status: RequestStatus = { sender, state: 'processing', at: Date.now(), waiters: [] };
    this.statuses.set(requestId, status);
    return { fresh: true, done: new Promise((resolve) => status.waiters.push(resolve)) };
  }

  /** Who sent the request and, once answered, its result. */
  get(requestId: string): { readonly sender: string; readonly result?: CallResult } | undefined {
    return this.statuses.get(requestId);
  }

  answer(requestId: string, result: CallResult): void {
    const status = this.statuses.get(requestId);
    if (!status) return;
    status.state = 'done';
    status.result = result;
    status.at = Date.now();
    for (const w of status.waiters.splice(0)) w(result);
  }

  /** Forgets answered requests once no agent can still ask for them. */
  prune(): void {
    const cutoff = Date.now() - REQUEST_STATUS_TTL_MS;
    for (const [k, s] of this.statuses) if (s.state === 'done' && s.at < cutoff) this.statuses.delete(k);
  }
}

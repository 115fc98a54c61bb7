// The one retry policy for calls to a canister: exponential backoff between
// attempts, and an optional deadline over all of them. The uploader, the
// gateway's chunk cache and the reading commands all use it.
import { IntegrityError, TransientError } from './errors.ts';

/** Wait before attempt n+1 (n from 0): 250 ms doubling, at most 4 s. */
function backoffMs(attempt: number): number {
  return Math.min(250 * 2 ** attempt, 4000);
}

/**
 * Whether asking again may help: the endpoint was unreachable or slow, or one
 * reply failed verification (another node, or a proxy that behaves next time,
 * may answer correctly; a wrong answer is never used either way).
 */
function isRetryable(e: unknown): boolean {
  return e instanceof TransientError || e instanceof IntegrityError;
}

export interface RetryOptions {
  /** Attempts in all (default 5). */
  attempts?: number;
  /** All attempts together must finish within this long, or fail as `${what}: no answer`; none start after it. */
  timeoutMs?: number;
  what?: string;
}

export async function retry<T>(call: () => Promise<T>, o: RetryOptions = {}): Promise<T> {
  const attempts = o.attempts ?? 5;
  const deadline = o.timeoutMs === undefined ? Infinity : Date.now() + o.timeoutMs;
  const run = async (): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (e) {
        if (!isRetryable(e) || attempt + 1 >= attempts || Date.now() + backoffMs(attempt) >= deadline) throw e;
        await new Promise((r) => setTimeout(r, backoffMs(attempt)));
      }
    }
  };
  return o.timeoutMs === undefined ? run() : withDeadline(run(), o.timeoutMs, o.what ?? 'call');
}

/**
 * `work`, or a TransientError once `ms` have passed: a stalled endpoint fails
 * like an unreachable one. The work itself is not cancelled; callers bound it
 * too (every request has its own timeout, see connect()).
 */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TransientError(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

// Waiting for something a test or benchmark cannot be told about directly:
// ask again every few milliseconds, and fail with a message once the deadline
// has passed, so a missing event ends in an error, never a hang.

export class PollTimeout extends Error {}

/** Resolves with the first truthy value `check` returns; rejects after `timeoutMs`. */
export async function until<T>(check: () => T | Promise<T>, what: string, timeoutMs = 30_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() >= deadline) throw new PollTimeout(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

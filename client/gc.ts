// Reclaiming unused chunks: the canister deletes a bounded batch per call (to
// stay inside its instruction budget), so the caller repeats until none remain
// or a call makes no progress.
import type { IcbootService } from '../common/icboot_idl.ts';
import { MAX_GC_BATCH } from '../common/limits.ts';

export interface Reclaimed {
  /** Chunks deleted. */
  deleted: number;
  freedBytes: bigint;
}

export async function collectGarbage(canister: Pick<IcbootService, 'gc'>): Promise<Reclaimed> {
  const total: Reclaimed = { deleted: 0, freedBytes: 0n };
  for (;;) {
    const r = await canister.gc(MAX_GC_BATCH);
    total.freedBytes += r.freed_bytes;
    total.deleted += r.deleted;
    if (r.deleted === 0 || r.remaining === 0n) return total;
  }
}

// Rejects as the IC reports them: a reject code (@dfinity/agent's
// ReplicaRejectCode, 1 SysFatal to 5 CanisterError) and an IC error code.
import type { ReplicaRejectCode } from '@dfinity/agent';

export class RejectError extends Error {
  constructor(readonly rejectCode: ReplicaRejectCode, readonly errorCode: string, message: string) {
    super(message);
  }
}

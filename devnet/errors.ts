// Rejects as the IC reports them: a reject code (1 SYS_FATAL, 2 SYS_TRANSIENT,
// 3 DESTINATION_INVALID, 4 CANISTER_REJECT, 5 CANISTER_ERROR) and an error code.
export class RejectError extends Error {
  constructor(readonly rejectCode: number, readonly errorCode: string, message: string) {
    super(message);
  }
}

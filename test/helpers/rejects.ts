// Matching the agent's errors for a replica's reject by its codes, never by text.
import assert from 'node:assert/strict';
import {
  AgentError, CertifiedRejectErrorCode, UncertifiedRejectErrorCode, UncertifiedRejectUpdateErrorCode, type ReplicaRejectCode,
} from '@dfinity/agent';

/** Fails unless `p` is rejected by the replica with this reject code and IC error code; returns the reject message. */
export async function rejected(p: Promise<unknown>, rejectCode: ReplicaRejectCode, errorCode: string): Promise<string> {
  let message = '';
  await assert.rejects(p, (e: unknown) => {
    const code = e instanceof AgentError ? e.code : undefined;
    assert.ok(
      code instanceof CertifiedRejectErrorCode || code instanceof UncertifiedRejectErrorCode || code instanceof UncertifiedRejectUpdateErrorCode,
      `not a replica reject: ${String(e)}`,
    );
    assert.deepEqual([code.rejectCode, code.rejectErrorCode], [rejectCode, errorCode]);
    message = code.rejectMessage;
    return true;
  });
  return message;
}

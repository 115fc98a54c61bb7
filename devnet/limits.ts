// The replica's instruction limits per kind of message (dfinity/ic
// rs/config/src/subnet_config.rs and execution_environment.rs, application
// subnets) and the error a message that exceeds one ends with.
import type { MessageKind } from './message.ts';

export interface InstructionLimits {
  /** Queries and composite queries. */
  query: bigint;
  /** Updates, timers, response callbacks and cleanup. */
  update: bigint;
  /** One whole install_code: compilation, start, pre_upgrade and init or post_upgrade together. */
  install: bigint;
  /** canister_inspect_message. */
  inspect: bigint;
}

export const REPLICA_LIMITS: InstructionLimits = {
  query: 5_000_000_000n,
  update: 40_000_000_000n,
  install: 300_000_000_000n,
  inspect: 200_000_000n,
};

/** Which of the limits a message of `kind` runs under. */
export function limitOf(kind: MessageKind, limits: InstructionLimits): bigint {
  switch (kind) {
    case 'query': return limits.query;
    case 'inspect': return limits.inspect;
    case 'init': case 'pre_upgrade': case 'post_upgrade': case 'start': return limits.install;
    default: return limits.update;
  }
}

/** The replica's text for IC0522, the double full stop included. */
export function instructionLimitExceeded(limit: bigint): string {
  return `Canister exceeded the limit of ${limit} instructions for single message execution..\n`
    + 'Try optimizing this method to consume fewer instructions or split the work across multiple messages. '
    + 'See documentation: http://internetcomputer.org/docs/current/references/execution-errors#instruction-limit-exceeded';
}

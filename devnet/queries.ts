// Non-replicated execution: queries and canister_inspect_message run on this
// node alone, against the current state, and change nothing.
import { ReplicaRejectCode } from '@dfinity/agent';
import type { Principal } from '@dfinity/principal';
import type { Builtins } from './builtin.ts';
import { answerOf, noResponse, rejected, trapped, type CallResult } from './call_result.ts';
import type { Clock } from './clock.ts';
import type { DataCertificates } from './data_certificates.ts';
import type { ManagementCanister } from './management.ts';
import type { Message } from './message.ts';
import { isManagementCanister, type CanisterRegistry } from './registry.ts';

const MAX_QUERY_REPLY_BYTES = 3 * 1024 * 1024;

export class Queries {
  constructor(
    private readonly canisters: CanisterRegistry,
    private readonly clock: Clock,
    private readonly certificates: DataCertificates,
    private readonly management: ManagementCanister,
    private readonly builtins: Builtins,
  ) {}

  query(canisterId: Principal, method: string, arg: Uint8Array, sender: Principal): CallResult {
    try {
      if (isManagementCanister(canisterId)) return { status: 'replied', reply: this.management.query(sender, method, arg) };
      const builtin = this.builtins.find(canisterId);
      if (builtin) return { status: 'replied', reply: builtin.query(sender, method, arg, this.clock.now()) };
      const c = this.canisters.get(canisterId);
      const entry = c.entryFor('query', method);
      const msg: Message = {
        kind: entry.kind, method, arg, caller: sender.toUint8Array(), time: this.clock.now(), cycles: 0n,
        responded: false, maxReplyBytes: MAX_QUERY_REPLY_BYTES,
        dataCertificate: () => this.certificates.for(c),
      };
      const outcome = c.execute(msg, entry.name, false);
      if (!outcome.ok) return trapped(c.id, outcome);
      return answerOf(outcome.effects) ?? noResponse(c.id);
    } catch (e) {
      return rejected(e);
    }
  }

  /** Runs canister_inspect_message, when the canister has one: the reject, or null to let the call in. */
  inspect(canisterId: Principal, method: string, arg: Uint8Array, sender: Principal): CallResult | null {
    const c = this.canisters.find(canisterId);
    if (!c || !c.hasEntry('canister_inspect_message')) return null;
    const msg: Message = {
      kind: 'inspect', method, arg, caller: sender.toUint8Array(), time: this.clock.now(), cycles: 0n,
      responded: false, maxReplyBytes: 0,
    };
    const o = c.execute(msg, 'canister_inspect_message', false);
    if (o.ok && o.effects.accepted) return null;
    if (!o.ok && o.code === 'IC0522') return trapped(c.id, o);
    const why = o.ok ? 'Canister rejected the message' : `Canister trapped: ${o.message}`;
    return { status: 'rejected', code: ReplicaRejectCode.CanisterReject, errorCode: 'IC0406', message: `Error from Canister ${canisterId.toText()}: ${why}` };
  }
}

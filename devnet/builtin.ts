// Canisters the devnet implements itself rather than running their wasm (the
// management canister aside): system canisters that icp-cli and other tools
// expect at fixed ids on every local network.
import type { Principal } from '@dfinity/principal';

/**
 * The cycles a call brings to a builtin: it keeps what it accepts, and the
 * replica refunds the rest to the calling canister with the response (all of
 * them when the call is rejected), as for a call to a wasm canister.
 */
export class AttachedCycles {
  private accepted = 0n;

  constructor(readonly attached: bigint) {}

  /** What the callee has not yet accepted: the refund, when the call ends now. */
  get available(): bigint {
    return this.attached - this.accepted;
  }

  /** Keeps up to `max` of the available cycles; returns how many were kept. */
  accept(max: bigint): bigint {
    const take = max < this.available ? max : this.available;
    this.accepted += take;
    return take;
  }
}

export interface BuiltinCanister {
  readonly id: Principal;
  /**
   * Runs an update (ingress, or a call from a canister): the Candid reply, or
   * a thrown RejectError. `cycles` are those the call carries (none from
   * ingress); a builtin that rejects keeps none of them.
   */
  update(caller: Principal, method: string, arg: Uint8Array, time: bigint, cycles?: AttachedCycles): Uint8Array;
  /** Runs a query against the current state and changes nothing. */
  query(caller: Principal, method: string, arg: Uint8Array, time: bigint): Uint8Array;
}

export class Builtins {
  private readonly byId: Map<string, BuiltinCanister>;

  constructor(list: BuiltinCanister[]) {
    this.byId = new Map(list.map((b) => [b.id.toText(), b]));
  }

  find(id: Principal): BuiltinCanister | undefined {
    return this.byId.get(id.toText());
  }

  all(): BuiltinCanister[] {
    return [...this.byId.values()];
  }
}

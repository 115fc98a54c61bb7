// Canisters the devnet implements itself rather than running their wasm (the
// management canister aside): system canisters that icp-cli and other tools
// expect at fixed ids on every local network.
import type { Principal } from '@dfinity/principal';

export interface BuiltinCanister {
  readonly id: Principal;
  /** Runs an update (ingress, or a call from a canister): the Candid reply, or a thrown RejectError. */
  update(caller: Principal, method: string, arg: Uint8Array, time: bigint): Uint8Array;
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

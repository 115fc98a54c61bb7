// A builtin canister as a Candid service: one declaration (the service's
// interface factory, which agents' actors use too) says each method's types
// and whether it is a query; this decodes the argument, runs the method,
// encodes the reply, and rejects what a replica rejects for a canister built
// with the Rust CDK (unknown method, undecodable argument).
import { ReplicaRejectCode } from '@dfinity/agent';
import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';
import { AttachedCycles, type BuiltinCanister } from './builtin.ts';
import { assertSafeToDecode } from './candid_guard.ts';
import { RejectError } from './errors.ts';

/** A method body: the decoded arguments in, the reply's values out; throws a RejectError to reject. A query's `cycles` are none. */
export type MethodBody = (caller: Principal, args: unknown[], time: bigint, cycles: AttachedCycles) => unknown[];

/** The reject of a canister that trapped with `message`, as the replica reports it. */
export function trap(canister: Principal, message: string): RejectError {
  return new RejectError(ReplicaRejectCode.CanisterError, 'IC0503', `Error from Canister ${canister.toText()}: Canister called \`ic0.trap\` with message: ${message}`);
}

/** The trap of a Rust CDK canister whose call arguments do not decode, `why` being the decoder's one-line reason. */
export function decodeFailure(canister: Principal, why: string): RejectError {
  return trap(canister, `failed to decode call arguments: ${why}`);
}

export class CandidMethods implements BuiltinCanister {
  private readonly methods = new Map<string, { func: IDL.FuncClass; body: MethodBody }>();

  constructor(readonly id: Principal, service: IDL.InterfaceFactory, bodies: Record<string, MethodBody>) {
    for (const [name, func] of service({ IDL })._fields) {
      if (!Object.hasOwn(bodies, name)) throw new Error(`builtin ${id.toText()}: method ${name} has no body`);
      this.methods.set(name, { func, body: bodies[name] });
    }
  }

  /** An update call runs query methods too, as on a replica. */
  update(caller: Principal, method: string, arg: Uint8Array, time: bigint, cycles = new AttachedCycles(0n)): Uint8Array {
    return this.run('update', caller, method, arg, time, cycles);
  }

  query(caller: Principal, method: string, arg: Uint8Array, time: bigint): Uint8Array {
    return this.run('query', caller, method, arg, time, new AttachedCycles(0n));
  }

  private run(kind: 'query' | 'update', caller: Principal, name: string, arg: Uint8Array, time: bigint, cycles: AttachedCycles): Uint8Array {
    const m = this.methods.get(name);
    if (!m || (kind === 'query' && !m.func.annotations.includes('query'))) {
      throw new RejectError(ReplicaRejectCode.CanisterError, 'IC0536', `Error from Canister ${this.id.toText()}: Canister has no ${kind} method '${name}'.`);
    }
    let args: unknown[];
    try {
      assertSafeToDecode(arg);
      args = IDL.decode(m.func.argTypes, arg);
    } catch (e) {
      throw decodeFailure(this.id, (e as Error).message.split('\n')[0]);
    }
    return new Uint8Array(IDL.encode(m.func.retTypes, m.body(caller, args, time, cycles)));
  }
}

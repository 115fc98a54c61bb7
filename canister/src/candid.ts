// Binds the canister's methods to the one interface definition: `@candid` exposes
// a method as a query or an update with the Candid types common/icboot_idl.ts
// gives its name, and `Implementation` makes tsc hold each method to the
// client's TypeScript signature.
import { type IDL, query, update } from 'azle';
import { icbootMethods } from '../../common/icboot_idl.ts';

/** A service as the canister implements it: the same arguments, the reply itself rather than a promise. */
export type Implementation<Service> = {
  [K in keyof Service]: Service[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => R : never;
};

const funcs = new Map<string, IDL.FuncClass>(Object.entries(icbootMethods));

export function candid<This, Args extends unknown[], Return>(
  method: (this: This, ...args: Args) => Return,
  context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => Return>,
): void {
  const name = String(context.name);
  const func = funcs.get(name);
  // Runs when the class is defined, so azle's build stops here.
  if (func === undefined) throw new Error(`icboot: ${name} is not a method of the interface in common/icboot_idl.ts`);
  const expose = func.annotations.includes('query') ? query : update;
  // azle replies with at most one value, as every method of the interface does.
  expose<This, Args, Return>(func.argTypes, func.retTypes[0])(method, context);
}

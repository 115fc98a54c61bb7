// Binds a canister's methods to one interface definition: `bindTo(table)` gives
// a decorator that exposes a method as a query or an update with the Candid
// types the table gives its name (`@candid` for common/icboot_idl.ts), and
// `Implementation` makes tsc hold each method to the client's signature.
import { type IDL, query, update } from 'azle';
import { icbootMethods } from '../../common/icboot_idl.ts';

/** A service as a canister implements it: the same arguments, and the reply itself or a promise of it. */
export type Implementation<Service> = {
  [K in keyof Service]: Service[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => R | Promise<R> : never;
};

/** A decorator that exposes each method it marks as the method of the same name in `methods`. */
export function bindTo(methods: Record<string, IDL.FuncClass>, source: string) {
  const funcs = new Map<string, IDL.FuncClass>(Object.entries(methods));
  return <This, Args extends unknown[], Return>(
    method: (this: This, ...args: Args) => Return,
    context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => Return>,
  ): void => {
    const name = String(context.name);
    const func = funcs.get(name);
    // Runs when the class is defined, so azle's build stops here.
    if (func === undefined) throw new Error(`${name} is not a method of the interface in ${source}`);
    const expose = func.annotations.includes('query') ? query : update;
    // azle replies with at most one value, as every method of these interfaces does.
    expose<This, Args, Return>(func.argTypes, func.retTypes[0])(method, context);
  };
}

export const candid = bindTo(icbootMethods, 'common/icboot_idl.ts');

// `--json`: the result as one JSON document on stdout, for scripts. The
// documents are a stable contract, written out in docs/cli.md. One rule for
// numbers: a value that stays below 2^53 (ids, counts, bytes, seconds) is a
// JSON number; one that may not (cycles) is a decimal string, because many
// JSON parsers read every number as a double and would silently round it.
import { Option } from 'commander';
import type { Principal } from '@dfinity/principal';
import type { Connection } from '../client/canister.ts';

export const jsonOption = (): Option => new Option('--json', 'print the result as one JSON document on stdout (fields: docs/cli.md)');

export function printJson(doc: object): void {
  process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
}

/** Which network and canister answered: the first fields of every document that read a canister. */
export const origin = (c: Connection, canister: Principal): { network: string; host: string; canister: string } => (
  { network: c.network.name, host: c.network.host, canister: canister.toText() }
);

/** Cycles and other unbounded amounts: a decimal string (see above). */
export const amount = (n: bigint): string => n.toString();

/** Nanoseconds since the epoch (decimal string) → ISO 8601 in UTC, to the millisecond. */
export const jsonTime = (ns: string): string => new Date(Number(BigInt(ns) / 1_000_000n)).toISOString();

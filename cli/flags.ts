// Parsers for flag and argument values: each turns text into a typed value or
// throws InvalidArgumentError, which commander prints as a usage error.
import { InvalidArgumentError } from 'commander';
import { Principal } from '@dfinity/principal';

export function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
    return n;
  };
}
export const port = integer(0, 65535);
export const releaseId = integer(1, Number.MAX_SAFE_INTEGER);

export interface Endpoint {
  host: string;
  port: number;
}

export function endpoint(value: string): Endpoint {
  const m = /^(.*):(\d+)$/.exec(value);
  if (!m || !m[1]) throw new InvalidArgumentError('must be HOST:PORT, e.g. 192.168.122.1:69');
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port: port(m[2]) };
}

export function endpointOrOff(value: string): Endpoint | null {
  return value === 'off' ? null : endpoint(value);
}

export function byteCount(value: string): number {
  const m = /^(\d+)([KMG]?)(i?B)?$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError('must be a byte count such as 268435456, 256M or 4G');
  return Number(m[1]) * 1024 ** ' KMG'.indexOf(m[2].toUpperCase() || ' ');
}

/** A byte count (as byteCount reads it) from `min` to `max`. */
export function byteSize(min: number, max: number) {
  return (value: string): number => {
    const n = byteCount(value);
    if (n < min || n > max) throw new InvalidArgumentError(`must be from ${min} to ${max} bytes`);
    return n;
  };
}

export function fraction(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('must be a number from 0 to 1');
  return n;
}

/** A repeatable SHA-256 flag: each use adds one hash. */
export function collectHash(value: string, previous: string[]): string[] {
  if (!/^[0-9a-f]{64}$/.test(value)) throw new InvalidArgumentError('must be a SHA-256 in hex (64 characters)');
  return [...previous, value];
}

export function principal(value: string): Principal {
  try {
    return Principal.fromText(value);
  } catch {
    throw new InvalidArgumentError('must be a principal (e.g. aaaaa-aa or a dfx identity\'s principal)');
  }
}

const LIMIT_KINDS = ['query', 'update', 'install', 'inspect'] as const;
export type LimitKind = (typeof LIMIT_KINDS)[number];

/** Instruction limits by kind, e.g. `query=10000000,update=10000000`. */
export function instructionLimits(value: string): Partial<Record<LimitKind, bigint>> {
  const out: Partial<Record<LimitKind, bigint>> = {};
  for (const part of value.split(',')) {
    const m = /^(\w+)=(\d{1,15})$/.exec(part.trim());
    const kind = m?.[1] as LimitKind | undefined;
    if (!m || !kind || !LIMIT_KINDS.includes(kind) || BigInt(m[2]) === 0n) {
      throw new InvalidArgumentError(`must be KIND=INSTRUCTIONS[,...] with KIND one of ${LIMIT_KINDS.join(', ')}, e.g. query=10000000`);
    }
    out[kind] = BigInt(m[2]);
  }
  return out;
}

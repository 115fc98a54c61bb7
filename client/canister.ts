// Connecting to an icboot canister: network, identity, canister id, agent,
// and a typed actor whose failures are one-line UserErrors.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Actor, AgentError, HttpAgent, HttpFetchErrorCode, type Identity } from '@dfinity/agent';
import { Principal } from '@dfinity/principal';
import { TransientError, UserError } from './errors.ts';
import { icbootIdlFactory, type IcbootService } from '../common/icboot_idl.ts';
import { loadIdentity, type IdentityOptions } from './identity.ts';
import { resolveNetwork, type Network } from './network.ts';
import { writeAtomic } from '../common/write_atomic.ts';

export interface CommonOptions extends IdentityOptions {
  network?: string;
  canister?: string;
}

export interface Connection {
  network: Network;
  agent: HttpAgent;
  identity: Identity;
  /** Bound on each HTTP request. */
  requestTimeoutMs: number;
}

/** icboot's own record of deployed canisters, in dfx's canister_ids.json shape. */
const RECORD = join('.icboot', 'canister_ids.json');
type CanisterIds = Record<string, Record<string, string>>;

function readIds(path: string): CanisterIds {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as CanisterIds;
  } catch {
    return {};
  }
}

export function recordCanisterId(network: Network, id: Principal): void {
  const ids = readIds(RECORD);
  ids.icboot = { ...ids.icboot, [network.name]: id.toText() };
  mkdirSync('.icboot', { recursive: true });
  writeAtomic(RECORD, JSON.stringify(ids, null, 2) + '\n');
}

/** --canister, ICBOOT_CANISTER, icboot's record, then dfx's records. */
export function findCanisterId(network: Network, flag = process.env.ICBOOT_CANISTER): Principal | null {
  const sources: [string, string | undefined][] = [
    ['--canister', flag],
    [RECORD, readIds(RECORD).icboot?.[network.name]],
    [`.dfx/${network.name}/canister_ids.json`, readIds(join('.dfx', network.name, 'canister_ids.json')).icboot?.[network.name]],
    ['canister_ids.json', readIds('canister_ids.json').icboot?.[network.name]],
  ];
  for (const [where, text] of sources) {
    if (!text) continue;
    try {
      return Principal.fromText(text);
    } catch {
      throw new UserError(`${where}: "${text}" is not a canister id`);
    }
  }
  return null;
}

export function requireCanisterId(network: Network, flag?: string): Principal {
  const id = findCanisterId(network, flag);
  if (!id) throw new UserError(`no icboot canister known for network "${network.name}"; run \`icboot deploy\` or pass --canister ID`);
  return id;
}

/** Default bound on one HTTP request to the IC: a stalled endpoint must fail, not hang. */
export const REQUEST_TIMEOUT_MS = 60_000;

/** fetch, with every request aborted after `ms` (a stalled endpoint fails like an unreachable one). */
function boundedFetch(ms: number): typeof fetch {
  return (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(ms) });
}

export async function connect(o: CommonOptions, notice?: (line: string) => void, requestTimeoutMs = REQUEST_TIMEOUT_MS): Promise<Connection> {
  const network = resolveNetwork(o.network);
  const { identity } = loadIdentity(o, notice);
  try {
    const agent = await HttpAgent.create({
      host: network.host, identity, shouldFetchRootKey: network.fetchRootKey, retryTimes: 2, fetch: boundedFetch(requestTimeoutMs),
    });
    return { network, agent, identity, requestTimeoutMs };
  } catch (e) {
    const why = transportFailure(e, requestTimeoutMs) ?? firstLine(e);
    throw new TransientError(`cannot reach ${network.host}: ${why}${network.name === 'local' ? ' (is `icboot devnet` or `dfx start` running?)' : ''}`);
  }
}

/** Why a request never got an answer (refused, reset, timed out), or null for other failures. */
function transportFailure(e: unknown, timeoutMs: number): string | null {
  if (!(e instanceof AgentError) || !(e.cause.code instanceof HttpFetchErrorCode)) return null;
  const inner = e.cause.code.error;
  if (inner instanceof Error && inner.name === 'TimeoutError') return `no answer within ${timeoutMs / 1000} s`;
  const cause = inner instanceof Error ? (inner.cause as Error | undefined) : undefined;
  return firstLine(cause ?? inner);
}

function firstLine(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n').find((l) => l.trim()) ?? m;
}

/** Turns an agent or canister failure into a message a user can act on. */
export function userError(e: unknown, host: string, requestTimeoutMs = REQUEST_TIMEOUT_MS): UserError {
  if (e instanceof UserError) return e;
  const transport = transportFailure(e, requestTimeoutMs);
  if (transport) return new TransientError(`cannot reach ${host}: ${transport}`);
  const text = e instanceof Error ? e.message : String(e);
  const own = /icboot: (.*)/.exec(text);
  if (own) return new UserError(own[1]);
  if (/IC0301|not found/.test(text) && /Canister/.test(text)) {
    const id = /Canister ([a-z0-9-]+)/.exec(text)?.[1] ?? 'the canister';
    return new UserError(`canister ${id} does not exist on ${host}`);
  }
  if (/IC0537|no Wasm module/.test(text)) return new UserError('the canister has no code installed; run `icboot deploy`');
  const reject = /Reject text: (.*)/.exec(text);
  if (reject) return new UserError(reject[1]);
  if (/fetch failed|ECONNREFUSED|ECONNRESET|HttpFetchErrorCode|Failed to fetch|TimeoutWaitingForResponse/.test(text)) {
    return new TransientError(`cannot reach ${host}`);
  }
  if (/Status: 5\d\d|Reject code: 2\b/.test(text)) return new TransientError(`${host} is unavailable: ${firstLine(e)}`);
  return new UserError(firstLine(e));
}

/** The icboot canister's methods; every failure is a UserError. */
export function icbootCanister(c: Connection, canisterId: Principal): IcbootService {
  const actor = Actor.createActor<IcbootService>(icbootIdlFactory, { agent: c.agent, canisterId });
  return new Proxy(actor, {
    get(target, key) {
      const value = Reflect.get(target, key) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        (value as (...a: unknown[]) => Promise<unknown>).apply(target, args).catch((e: unknown) => {
          throw userError(e, c.network.host, c.requestTimeoutMs);
        });
    },
  }) as IcbootService;
}


// Connecting to an icboot canister: network, identity, canister id, agent,
// and a typed actor whose failures are one-line UserErrors.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Actor, AgentError, CanisterStatus, CertifiedRejectErrorCode, HttpAgent, HttpErrorCode, HttpFetchErrorCode, IngressExpiryInvalidErrorCode,
  ReplicaRejectCode,
  TimeoutWaitingForResponseErrorCode, UncertifiedRejectErrorCode, UncertifiedRejectUpdateErrorCode, type Identity,
} from '@dfinity/agent';
import { Principal } from '@dfinity/principal';
import {
  AnonymousCallerError, CanisterNotFoundError, ClockError, EndpointError, NotControllerError, OutOfCyclesError, RefusedError, TransientError, UserError,
} from './errors.ts';
import { icbootIdlFactory, icbootMethods, type IcbootService } from '../common/icboot_idl.ts';
import { isObject } from '../common/json.ts';
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

/** A canister_ids.json file that cannot be used; `path` names it. */
export class CanisterIdsError extends UserError {
  constructor(readonly path: string, problem: string) {
    super(`${path}: ${problem}`);
  }
}

/**
 * A record file's JSON, or undefined when there is none. A file that is there
 * but unreadable is an error, never "none": deploy would then record a new
 * canister over the entries it could not read.
 */
function readRecord(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CanisterIdsError(path, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CanisterIdsError(path, `not valid JSON (${(e as Error).message}); fix or remove it`);
  }
}

/** A canister_ids.json file, or {} when there is none. */
function readIds(path: string): CanisterIds {
  const ids = readRecord(path) ?? {};
  if (!isObject(ids) || !Object.values(ids).every((byNetwork) => isObject(byNetwork) && Object.values(byNetwork).every((id) => typeof id === 'string'))) {
    throw new CanisterIdsError(path, 'not a canister_ids.json file (expected {"NAME": {"NETWORK": "CANISTER_ID"}}); fix or remove it');
  }
  return ids as CanisterIds;
}

/**
 * icp-cli's record of one environment's canisters, `{"NAME": "CANISTER_ID"}`,
 * or {} when there is none. icp.yaml's `local` environment is `icboot devnet`
 * and `ic` is mainnet, so those are the environments icboot's networks of the
 * same names read; a URL network has no environment.
 */
function readIcpIds(network: Network): Record<string, string> {
  if (network.name !== 'local' && network.name !== 'ic') return {};
  const path = icpRecord(network.name);
  const ids = readRecord(path) ?? {};
  if (!isObject(ids) || !Object.values(ids).every((id) => typeof id === 'string')) {
    throw new CanisterIdsError(path, 'not an icp-cli mappings file (expected {"NAME": "CANISTER_ID"}); fix or remove it');
  }
  return ids as Record<string, string>;
}

/** Where icp-cli records the canisters it created in environment `env` of a project on a connected network. */
export function icpRecord(env: string): string {
  return join('.icp', 'data', 'mappings', `${env}.ids.json`);
}

export function recordCanisterId(network: Network, id: Principal): void {
  const ids = readIds(RECORD);
  ids.icboot = { ...ids.icboot, [network.name]: id.toText() };
  mkdirSync('.icboot', { recursive: true });
  writeAtomic(RECORD, JSON.stringify(ids, null, 2) + '\n');
}

/**
 * --canister, ICBOOT_CANISTER, icboot's record, icp-cli's record, then dfx's
 * records; a file is read only when the ones before it name no canister.
 */
export function findCanisterId(network: Network, flag = process.env.ICBOOT_CANISTER): Principal | null {
  const file = (path: string): [string, () => string | undefined] => [path, () => readIds(path).icboot?.[network.name]];
  const sources: [string, () => string | undefined][] = [
    ['--canister', () => flag], file(RECORD), [icpRecord(network.name), () => readIcpIds(network).icboot],
    file(join('.dfx', network.name, 'canister_ids.json')), file('canister_ids.json'),
  ];
  for (const [where, lookup] of sources) {
    const text = lookup();
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
const REQUEST_TIMEOUT_MS = 60_000;

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
    // Only a network that publishes its root key is asked anything here: for its status.
    const why = transportFailure(e, requestTimeoutMs);
    if (why === undefined && !(e instanceof AgentError && e.code instanceof HttpErrorCode && e.code.status >= 500)) {
      const answer = e instanceof AgentError && e.code instanceof HttpErrorCode ? `HTTP ${e.code.status} for its status` : firstLine(e);
      throw new EndpointError(`${network.host} is not an IC API endpoint (${answer}); check --network`);
    }
    throw new TransientError(`cannot reach ${network.host}: ${why ?? firstLine(e)}${network.name === 'local' ? ' (is `icboot devnet` or `dfx start` running?)' : ''}`);
  }
}

/** Why a request never got an answer (refused, reset, timed out), or undefined when `e` is no transport failure. */
function transportFailure(e: unknown, timeoutMs: number): string | undefined {
  if (e instanceof AgentError && e.code instanceof HttpFetchErrorCode) return fetchFailure(e.code.error, timeoutMs);
  return isFetchFailure(e) ? fetchFailure(e, timeoutMs) : undefined;
}

/**
 * A rejection of fetch itself that the agent passed on unwrapped (it reads an
 * error response's body outside its own catch): undici's TypeError carries the
 * socket error as its cause; an aborted or timed-out request is a DOMException.
 */
function isFetchFailure(e: unknown): boolean {
  if (e instanceof TypeError) return e.cause !== undefined;
  return e instanceof DOMException && (e.name === 'TimeoutError' || e.name === 'AbortError');
}

function fetchFailure(inner: unknown, timeoutMs: number): string {
  if (inner instanceof Error && inner.name === 'TimeoutError') return `no answer within ${timeoutMs / 1000} s`;
  const cause = inner instanceof Error ? (inner.cause as Error | undefined) : undefined;
  return firstLine(cause ?? inner);
}

function firstLine(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n').find((l) => l.trim()) ?? m;
}

/** IC error codes icboot tells apart (the IC interface specification lists them). */
const IC_CANISTER_NOT_FOUND = 'IC0301';
const IC_CANISTER_CALLED_TRAP = 'IC0503';
const IC_OUT_OF_CYCLES = 'IC0207';
const IC_INVALID_CONTROLLER = 'IC0512';
const IC_NO_WASM_MODULE = 'IC0537';
/** The canister refuses a call with trap(`icboot: ${message}`) (canister/src/index.ts); the message is for the user. */
const OWN_TRAP_PREFIX = 'icboot: ';

type RejectCode = CertifiedRejectErrorCode | UncertifiedRejectErrorCode | UncertifiedRejectUpdateErrorCode;

export interface FailureContext {
  /** The endpoint, for messages. */
  host: string;
  /** The bound on one request, for messages. */
  requestTimeoutMs?: number;
  /**
   * The canister the call was about. The agent's reject does not always say:
   * a call it had to poll for carries no call details, and a management call
   * names only the management canister.
   */
  canisterId?: Principal;
  /** Mainnet, where advice must not spend cycles on what may be a typo. */
  mainnet?: boolean;
}

/** Turns an agent or canister failure into a message a user can act on, by the agent's error types and the IC's codes. */
export function userError(e: unknown, o: FailureContext): UserError {
  if (e instanceof UserError) return e;
  const unreachable = transportFailure(e, o.requestTimeoutMs ?? REQUEST_TIMEOUT_MS);
  if (unreachable !== undefined) return new TransientError(`cannot reach ${o.host}: ${unreachable}`);
  if (!(e instanceof AgentError)) return new UserError(firstLine(e));
  const code = e.code;
  if (code instanceof TimeoutWaitingForResponseErrorCode) return new TransientError(`cannot reach ${o.host}`);
  if (code instanceof IngressExpiryInvalidErrorCode) {
    return new ClockError(`${o.host} refused the request's expiry: this machine's clock is off by more than 5 minutes; set it (e.g. \`timedatectl set-ntp true\`)`);
  }
  if (code instanceof HttpErrorCode && code.status >= 500) return new TransientError(`${o.host} is unavailable: HTTP ${code.status} ${code.statusText}`);
  if (code instanceof HttpErrorCode) return new UserError(`${o.host} refused the request: HTTP ${code.status} ${code.statusText}${code.bodyText ? `: ${firstLine(code.bodyText)}` : ''}`);
  if (code instanceof CertifiedRejectErrorCode || code instanceof UncertifiedRejectErrorCode || code instanceof UncertifiedRejectUpdateErrorCode) {
    return rejected(code, o);
  }
  return new UserError(firstLine(e));
}

function rejected(r: RejectCode, o: FailureContext): UserError {
  const text = r.rejectMessage;
  const own = r.rejectErrorCode === IC_CANISTER_CALLED_TRAP ? text.indexOf(OWN_TRAP_PREFIX) : -1;
  if (own >= 0) return new RefusedError(firstLine(text.slice(own + OWN_TRAP_PREFIX.length)));
  if (r.rejectErrorCode === IC_CANISTER_NOT_FOUND) return notFound(o.canisterId ?? r.callContext?.canisterId, o);
  if (r.rejectErrorCode === IC_INVALID_CONTROLLER) return new NotControllerError(firstLine(text));
  if (r.rejectErrorCode === IC_NO_WASM_MODULE) return new UserError('the canister has no code installed; run `icboot deploy`');
  // A replica sends this one as transient, but waiting does not refill a balance.
  if (r.rejectErrorCode === IC_OUT_OF_CYCLES) {
    return new OutOfCyclesError(`${firstLine(text)} (\`icboot status\` shows its balance and freezing threshold; a controller can top it up)`);
  }
  if (r.rejectCode === ReplicaRejectCode.SysTransient) return new TransientError(`${o.host} is unavailable: ${firstLine(text)}`);
  return new UserError(firstLine(text));
}

function notFound(id: Principal | undefined, o: FailureContext): CanisterNotFoundError {
  const what = id ? `canister ${id.toText()}` : 'the canister';
  // Creating one on mainnet spends cycles: a mistyped id or network is the likelier cause there.
  if (o.mainnet) return new CanisterNotFoundError(`${what} does not exist on ${o.host}; check --canister ID and --network`);
  return new CanisterNotFoundError(`${what} does not exist on ${o.host}; run \`icboot deploy\` to create one there, or pass --canister ID`);
}

/** An agent for one quiet check: unsigned, one attempt (4xx is never retried), bounded like every request. */
function checkAgent(c: Connection): HttpAgent {
  return HttpAgent.createSync({ host: c.network.host, rootKey: c.agent.rootKey ?? undefined, retryTimes: 0, fetch: boundedFetch(c.requestTimeoutMs) });
}

/**
 * What an HTTP 400 or 404 for a canister's request means. The endpoint routes
 * by canister id, so it is "no subnet holds this canister" only when the same
 * endpoint answers its own status request; otherwise the URL is not an IC API
 * endpoint (or one that misrouted just then).
 */
async function classifyRefusal(c: Connection, canisterId: Principal, o: FailureContext): Promise<UserError> {
  try {
    await checkAgent(c).status();
  } catch {
    return new EndpointError(`${o.host} is not an IC API endpoint (it refused an IC request and its status); check --network`);
  }
  return notFound(canisterId, o);
}

function isRefusal(e: unknown): boolean {
  return e instanceof AgentError && e.code instanceof HttpErrorCode && (e.code.status === 400 || e.code.status === 404);
}

/**
 * Asks the network for its time through the canister's subnet before the
 * first query. A query fetches the subnet's node keys beside itself, and when
 * that fetch fails the agent's canister-status helper writes the error with
 * its stack to the console unconditionally (no agent option turns it off;
 * `logToConsole` is already off): an unknown canister or an unreachable
 * endpoint must fail here, quietly, instead.
 */
async function locate(c: Connection, canisterId: Principal, o: FailureContext): Promise<void> {
  try {
    await checkAgent(c).readState(canisterId, { paths: [[new TextEncoder().encode('time')]] });
  } catch (e) {
    throw isRefusal(e) ? await classifyRefusal(c, canisterId, o) : userError(e, o);
  }
}

/** The icboot canister's update methods: the ones that change it, which only controllers and writers may call. */
const UPDATES = new Set(Object.entries(icbootMethods).filter(([, f]) => !f.annotations.includes('query')).map(([name]) => name));

/**
 * An update the canister refused for the anonymous principal is refused for
 * being unsigned, unless anonymous controls the canister: no writer can be
 * anonymous (`authorize` refuses it), so the fix is to sign, not to authorize.
 */
async function refusedAsAnonymous(c: Connection, canisterId: Principal, method: string, e: UserError): Promise<UserError> {
  if (!(e instanceof RefusedError) || !UPDATES.has(method) || !c.identity.getPrincipal().isAnonymous()) return e;
  const status = await CanisterStatus.request({ agent: checkAgent(c), canisterId, paths: ['controllers'] }).catch(() => null);
  const controllers = status?.get('controllers');
  // Controllers unknown (the check itself failed): the canister's own refusal is the better report.
  if (!Array.isArray(controllers) || (controllers as Principal[]).some((p) => p.isAnonymous())) return e;
  return new AnonymousCallerError(`canister ${canisterId.toText()} refuses ${method} from the anonymous identity, which cannot be authorized; `
    + 'sign with an identity: --pem FILE, --identity NAME (a dfx identity), or neither flag for icboot\'s own');
}

/** The icboot canister's methods; every failure is a UserError. */
export function icbootCanister(c: Connection, canisterId: Principal): IcbootService {
  const actor = Actor.createActor<IcbootService>(icbootIdlFactory, { agent: c.agent, canisterId });
  const o: FailureContext = { host: c.network.host, requestTimeoutMs: c.requestTimeoutMs, canisterId, mainnet: c.network.name === 'ic' };
  // Located once per actor, before its first query (an update fetches no node
  // keys, so its refusal is classified after it fails); a failure is not kept.
  let located: Promise<void> | undefined;
  const ready = (): Promise<void> => (located ??= locate(c, canisterId, o).catch((e: unknown) => {
    located = undefined;
    throw e;
  }));
  return new Proxy(actor, {
    get(target, key) {
      const value = Reflect.get(target, key) as unknown;
      if (typeof value !== 'function') return value;
      const method = String(key);
      return async (...args: unknown[]) => {
        if (!UPDATES.has(method)) await ready();
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } catch (e) {
          if (isRefusal(e)) throw await classifyRefusal(c, canisterId, o);
          throw await refusedAsAnonymous(c, canisterId, method, userError(e, o));
        }
      };
    },
  }) as IcbootService;
}


// How agent failures become UserErrors, and the canister id records. The agent
// errors are the agent's own classes, with the field values `icboot devnet`
// gave for each case (unknown canister, no code, trap, closed port, 503).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  AnonymousIdentity, CertifiedRejectErrorCode, HttpAgent, HttpErrorCode, HttpFetchErrorCode, IngressExpiryInvalidErrorCode, InputError, ProtocolError, RejectError,
  ReplicaRejectCode, TimeoutWaitingForResponseErrorCode, TransportError, UncertifiedRejectErrorCode, UnknownError, type RequestId,
} from '@dfinity/agent';
import { Principal } from '@dfinity/principal';
import {
  CanisterIdsError, connect, findCanisterId, icbootCanister, icpRecord, recordCanisterId, userError, type Connection, type FailureContext,
} from './canister.ts';
import { deploy } from './deploy.ts';
import {
  CanisterNotFoundError, ClockError, EndpointError, NotControllerError, OutOfCyclesError, RefusedError, TransientError, UserError,
} from './errors.ts';
import { resolveNetwork } from './network.ts';

const HOST = 'http://127.0.0.1:4943';
const CANISTER = Principal.fromText('bkyz2-fmaaa-aaaaa-qaaaq-cai');
const requestId = new Uint8Array(32) as RequestId;
const ADVICE = '; run `icboot deploy` to create one there, or pass --canister ID';

/** A reject as the agent reports it for a call to `canisterId`. */
function reject(rejectCode: ReplicaRejectCode, errorCode: string, message: string, canisterId = CANISTER, certified = true): RejectError {
  const code = certified
    ? new CertifiedRejectErrorCode(requestId, rejectCode, message, errorCode)
    : new UncertifiedRejectErrorCode(requestId, rejectCode, message, errorCode, []);
  code.callContext = { canisterId, methodName: 'status', httpDetails: { ok: true, status: 200, statusText: 'OK', headers: [] } };
  return RejectError.fromCode(code);
}

/** Asserts `e` classifies as exactly `type` with `message`. */
function classifies(e: unknown, type: typeof UserError, message: string, o: Partial<FailureContext> = {}): void {
  const u = userError(e, { host: HOST, ...o });
  assert.equal(u.constructor, type, `${u.constructor.name}: ${u.message}`);
  assert.equal(u.message, message);
}

describe('agent failures as UserErrors', () => {
  it('a canister that does not exist (IC0301), for a query and for an update', () => {
    const message = `canister ${CANISTER.toText()} does not exist on ${HOST}${ADVICE}`;
    classifies(reject(ReplicaRejectCode.DestinationInvalid, 'IC0301', `Canister ${CANISTER.toText()} not found`, CANISTER, false), CanisterNotFoundError, message);
    classifies(reject(ReplicaRejectCode.DestinationInvalid, 'IC0301', `Canister ${CANISTER.toText()} not found`), CanisterNotFoundError, message);
  });

  it('names the canister a management call was about, not the management canister', () => {
    const e = reject(ReplicaRejectCode.DestinationInvalid, 'IC0301', `Canister ${CANISTER.toText()} not found`, Principal.managementCanister());
    classifies(e, CanisterNotFoundError, `canister ${CANISTER.toText()} does not exist on ${HOST}${ADVICE}`, { canisterId: CANISTER });
  });

  it('a reject after polling has no call details: the canister is the one the caller names, if any', () => {
    const polled = RejectError.fromCode(new CertifiedRejectErrorCode(requestId, ReplicaRejectCode.DestinationInvalid, `Canister ${CANISTER.toText()} not found`, 'IC0301'));
    classifies(polled, CanisterNotFoundError, `canister ${CANISTER.toText()} does not exist on ${HOST}${ADVICE}`, { canisterId: CANISTER });
    classifies(polled, CanisterNotFoundError, `the canister does not exist on ${HOST}${ADVICE}`);
  });

  it('a canister without code (IC0537)', () => {
    classifies(reject(ReplicaRejectCode.CanisterError, 'IC0537', `Attempted to execute a message, but the canister ${CANISTER.toText()} contains no Wasm module.`),
      UserError, 'the canister has no code installed; run `icboot deploy`');
  });

  it('the canister\'s own refusal (trap "icboot: …", IC0503) is passed on as it is, as its own type', () => {
    const own = 'abc is not authorized to write; a controller can run `icboot authorize abc`';
    classifies(reject(ReplicaRejectCode.CanisterError, 'IC0503', `Error from Canister ${CANISTER.toText()}: Canister called \`ic0.trap\` with message: icboot: ${own}`),
      RefusedError, own);
  });

  it('a caller that is not a controller (IC0512): its own type, with the message\'s first line', () => {
    classifies(reject(ReplicaRejectCode.CanisterError, 'IC0512', `Only the controllers of the canister ${CANISTER.toText()} can control it.\nCanister's controllers: x`, Principal.managementCanister()),
      NotControllerError, `Only the controllers of the canister ${CANISTER.toText()} can control it.`);
  });

  it('a canister out of cycles (IC0207, sent as transient): its own type, not retried, with what to do', () => {
    classifies(reject(ReplicaRejectCode.SysTransient, 'IC0207', 'Canister x is out of cycles: please top up the canister with at least 5 additional cycles'),
      OutOfCyclesError, 'Canister x is out of cycles: please top up the canister with at least 5 additional cycles (`icboot status` shows its balance and freezing threshold; a controller can top it up)');
  });

  it('another reject: its message\'s first line', () => {
    classifies(reject(ReplicaRejectCode.CanisterError, 'IC0503', 'Error from Canister x: Canister called `ic0.trap` with message: boom'),
      UserError, 'Error from Canister x: Canister called `ic0.trap` with message: boom');
  });

  it('a transient reject (SYS_TRANSIENT) may go away', () => {
    classifies(reject(ReplicaRejectCode.SysTransient, 'IC0502', 'devnet internal error: busy'), TransientError, `${HOST} is unavailable: devnet internal error: busy`);
  });

  it('an unreachable endpoint: refused, or no answer within the request bound', () => {
    const refused = new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:9') });
    classifies(TransportError.fromCode(new HttpFetchErrorCode(refused)), TransientError, `cannot reach ${HOST}: connect ECONNREFUSED 127.0.0.1:9`);
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    classifies(TransportError.fromCode(new HttpFetchErrorCode(timeout)), TransientError, `cannot reach ${HOST}: no answer within 2 s`, { requestTimeoutMs: 2000 });
    classifies(UnknownError.fromCode(new TimeoutWaitingForResponseErrorCode('Backoff strategy exhausted after 3 attempts.')), TransientError, `cannot reach ${HOST}`);
  });

  it('a fetch failure the agent passed on unwrapped is an unreachable endpoint too', () => {
    classifies(new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:9') }), TransientError, `cannot reach ${HOST}: connect ECONNREFUSED 127.0.0.1:9`);
    classifies(new DOMException('The operation was aborted due to timeout', 'TimeoutError'), TransientError, `cannot reach ${HOST}: no answer within 2 s`, { requestTimeoutMs: 2000 });
    classifies(new DOMException('This operation was aborted', 'AbortError'), TransientError, `cannot reach ${HOST}: This operation was aborted`);
    classifies(new TypeError('x is not a function'), UserError, 'x is not a function');
  });

  it('HTTP 5xx may go away; HTTP 4xx is reported with the body\'s first line', () => {
    classifies(ProtocolError.fromCode(new HttpErrorCode(503, 'Service Unavailable', [], 'proxy fault injection: query failed')),
      TransientError, `${HOST} is unavailable: HTTP 503 Service Unavailable`);
    classifies(ProtocolError.fromCode(new HttpErrorCode(400, 'Bad Request', [], 'Canister x does not belong to any subnet of this devnet\n')),
      UserError, `${HOST} refused the request: HTTP 400 Bad Request: Canister x does not belong to any subnet of this devnet`);
  });

  it('a UserError stays as it is; anything else becomes its first line', () => {
    const own = new TransientError('mine');
    assert.equal(userError(own, { host: HOST }), own);
    classifies(new Error('first\nsecond'), UserError, 'first');
  });
});

describe('canister id records', () => {
  const network = resolveNetwork('local');
  const start = process.cwd();
  const dir = mkdtempSync(join(tmpdir(), 'icboot-ids-test-'));
  const record = join('.icboot', 'canister_ids.json');
  const write = (path: string, text: string): void => {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text);
  };
  before(() => process.chdir(dir));
  after(() => {
    process.chdir(start);
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    for (const f of ['.icboot', '.icp', '.dfx', 'canister_ids.json']) rmSync(f, { recursive: true, force: true });
  });

  it('none recorded: null; recording keeps the other entries', () => {
    assert.equal(findCanisterId(network, undefined), null);
    write(record, JSON.stringify({ icboot: { ic: 'aaaaa-aa' }, other: { local: 'aaaaa-aa' } }));
    recordCanisterId(network, CANISTER);
    assert.deepEqual(JSON.parse(readFileSync(record, 'utf8')), { icboot: { ic: 'aaaaa-aa', local: CANISTER.toText() }, other: { local: 'aaaaa-aa' } });
    assert.equal(findCanisterId(network, undefined)?.toText(), CANISTER.toText());
  });

  it('a malformed record is a UserError naming the file, and is never rewritten', async () => {
    for (const text of ['{"icboot": {"local": "bkyz2-fmaaa-aaaaa-qaaaq-cai"', '[]', '{"icboot": "bkyz2-fmaaa-aaaaa-qaaaq-cai"}']) {
      write(record, text);
      const names = (e: unknown): boolean => e instanceof CanisterIdsError && e.path === record;
      assert.throws(() => findCanisterId(network, undefined), names, text);
      assert.throws(() => recordCanisterId(network, CANISTER), names, text);
      const c: Connection = { network, agent: HttpAgent.createSync({ host: HOST }), identity: new AnonymousIdentity(), requestTimeoutMs: 1000 };
      await assert.rejects(deploy(c, 'auto'), names, text);
      assert.equal(readFileSync(record, 'utf8'), text, 'unchanged');
    }
  });

  it('icp-cli\'s record: environment local for network local, ic for ic, none for a URL', () => {
    const other = 'ryjl3-tyaaa-aaaaa-aaaba-cai';
    write(icpRecord('local'), JSON.stringify({ icboot: CANISTER.toText(), backend: other }, null, 2));
    write(icpRecord('ic'), JSON.stringify({ icboot: other }));
    assert.equal(findCanisterId(network, undefined)?.toText(), CANISTER.toText());
    assert.equal(findCanisterId(resolveNetwork('ic'), undefined)?.toText(), other);
    assert.equal(findCanisterId(resolveNetwork('http://127.0.0.1:4943'), undefined), null);
  });

  it('order: icboot\'s record, then icp-cli\'s, then dfx\'s', () => {
    const icp = 'ryjl3-tyaaa-aaaaa-aaaba-cai';
    write(join('.dfx', 'local', 'canister_ids.json'), JSON.stringify({ icboot: { local: 'rrkah-fqaaa-aaaaa-aaaaq-cai' } }));
    write(icpRecord('local'), JSON.stringify({ icboot: icp }));
    assert.equal(findCanisterId(network, undefined)?.toText(), icp);
    write(record, JSON.stringify({ icboot: { local: CANISTER.toText() } }));
    assert.equal(findCanisterId(network, undefined)?.toText(), CANISTER.toText());
  });

  it('a malformed icp-cli record is a UserError naming the file, read only when needed', () => {
    const path = icpRecord('local');
    for (const text of ['{', '{"icboot": {"local": "bkyz2-fmaaa-aaaaa-qaaaq-cai"}}', '["bkyz2-fmaaa-aaaaa-qaaaq-cai"]']) {
      write(path, text);
      assert.throws(() => findCanisterId(network, undefined), (e) => e instanceof CanisterIdsError && e.path === path, text);
    }
    write(path, JSON.stringify({ icboot: 'not-a-principal' }));
    assert.throws(() => findCanisterId(network, undefined), (e) => e instanceof UserError && !(e instanceof CanisterIdsError));
    write(record, JSON.stringify({ icboot: { local: CANISTER.toText() } }));
    assert.equal(findCanisterId(network, undefined)?.toText(), CANISTER.toText());
  });

  it('a malformed dfx record is an error too, but only files that are needed are read', () => {
    write(join('.dfx', 'local', 'canister_ids.json'), '{');
    assert.throws(() => findCanisterId(network, undefined), (e) => e instanceof UserError);
    assert.equal(findCanisterId(network, CANISTER.toText())?.toText(), CANISTER.toText());
    write(record, JSON.stringify({ icboot: { local: CANISTER.toText() } }));
    assert.equal(findCanisterId(network, undefined)?.toText(), CANISTER.toText());
    assert.ok(existsSync(join('.dfx', 'local', 'canister_ids.json')));
  });
});

describe('a refusal by the endpoint (HTTP 400 or 404), told apart after it happens', () => {
  /** A real HTTP server that is no IC endpoint: 404 for every request. */
  let server: Server;
  let url: string;
  before(async () => {
    server = createServer((_req, res) => res.writeHead(404).end('no such page\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  it('a URL that is no IC endpoint: connect says so, not "cannot reach"', async () => {
    await assert.rejects(connect({ network: url, identity: 'anonymous' }), EndpointError);
  });

  it('a query and an update to it: EndpointError, never "canister does not exist; run icboot deploy"', async () => {
    // As for mainnet, whose root key is built in: connecting asks nothing, the first call meets the 404.
    const c: Connection = { network: { name: url, host: url, fetchRootKey: false }, agent: HttpAgent.createSync({ host: url, retryTimes: 0 }), identity: new AnonymousIdentity(), requestTimeoutMs: 5000 };
    await assert.rejects(icbootCanister(c, CANISTER).status(), EndpointError);
    await assert.rejects(icbootCanister(c, CANISTER).publish(1n), EndpointError);
  });

  it('the network refusing the request\'s expiry: this machine\'s clock', () => {
    const e = InputError.fromCode(new IngressExpiryInvalidErrorCode('Invalid request expiry: too far in the past', 5));
    assert.ok(userError(e, { host: HOST }) instanceof ClockError);
  });

  it('on mainnet an unknown canister is never told to deploy (that spends cycles)', () => {
    const e = reject(ReplicaRejectCode.DestinationInvalid, 'IC0301', `Canister ${CANISTER.toText()} not found`);
    const u = userError(e, { host: 'https://icp-api.io', mainnet: true });
    assert.ok(u instanceof CanisterNotFoundError && !u.message.includes('deploy'), u.message);
  });
});

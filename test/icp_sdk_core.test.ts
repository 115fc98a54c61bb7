// The devnet driven by today's agent, @icp-sdk/core's HttpAgent (call v4,
// query v3, read_state v3), with its default verification on (certificates
// and query signatures), and by raw HTTP where a replica's refusals are the
// contract: status, and the replica's text.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  Actor, AgentError, Cbor, CanisterStatus, HttpAgent, HttpErrorCode, KnownPath, LookupPathStatus, SubnetStatus,
  type ActorSubclass, type Identity,
} from '@icp-sdk/core/agent';
import { IDL } from '@icp-sdk/core/candid';
import { Ed25519KeyIdentity } from '@icp-sdk/core/identity';
import { Principal } from '@icp-sdk/core/principal';
import { Ed25519KeyIdentity as SetupIdentity } from '@dfinity/identity';
import { IDL as SetupIDL } from '@dfinity/candid';
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex } from '@noble/hashes/utils';
import { buildAzleCanister } from '../canister/build.ts';
import { withMetadata } from '../canister/metadata.ts';
import { REPO, startDevnetProcess, type RunningDevnet } from '../lab/devnet.ts';
import { agentFor, createCanister, management, testCanisterWasm } from './helpers/testcanister.ts';

/** The methods this test calls, declared with @icp-sdk/core's own IDL. */
interface Counter {
  count(): Promise<bigint>;
  increment(): Promise<bigint>;
}
const counterIdl: IDL.InterfaceFactory = ({ IDL: I }) => I.Service({
  count: I.Func([], [I.Nat64], ['query']),
  increment: I.Func([], [I.Nat64], []),
});

const SECRET = new TextEncoder().encode('for controllers only');

/** A fetch that records each request's method and path, for asserting which endpoints an agent used. */
function recordingFetch(log: string[]): typeof fetch {
  return (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    log.push(`${init?.method ?? 'GET'} ${new URL(url).pathname}`);
    return fetch(input, init);
  };
}

async function coreAgent(url: string, identity?: Identity, opts: { fetch?: typeof fetch; retryTimes?: number } = {}): Promise<HttpAgent> {
  return HttpAgent.create({ host: url, identity, shouldFetchRootKey: true, ...opts });
}

describe('@icp-sdk/core HttpAgent against the devnet', () => {
  const setupOwner = SetupIdentity.generate();
  const owner = Ed25519KeyIdentity.fromSecretKey(setupOwner.getKeyPair().secretKey);
  const stranger = Ed25519KeyIdentity.generate();
  let devnet: RunningDevnet;
  let id: Principal;
  let wasm: Uint8Array;
  let candid: string;
  const requests: string[] = [];
  let agent: HttpAgent;
  let counter: ActorSubclass<Counter>;

  before(async () => {
    devnet = await startDevnetProcess();
    // Setup goes through the agent icboot uses; the agent under test only reads and calls.
    const setup = await agentFor(devnet.url, setupOwner);
    const created = await createCanister(setup);
    // The test canister as built (with candid:service), plus a private section.
    wasm = new Uint8Array(gzipSync(withMetadata(gunzipSync(await testCanisterWasm()), 'secret', SECRET, 'private')));
    await management(setup, created).install_code({
      mode: { install: null }, canister_id: created, wasm_module: wasm, arg: new Uint8Array(SetupIDL.encode([], [])), sender_canister_version: [],
    });
    id = Principal.fromText(created.toText());
    candid = readFileSync((await buildAzleCanister(join(REPO, 'test', 'fixtures', 'testcanister'), 'testcanister')).candid, 'utf8');
    agent = await coreAgent(devnet.url, owner, { fetch: recordingFetch(requests) });
    counter = Actor.createActor<Counter>(counterIdl, { agent, canisterId: id });
  });

  after(async () => {
    await devnet?.stop();
    if (devnet) rmSync(devnet.stateDir, { recursive: true, force: true });
  });

  it('is the same principal on both agents', () => {
    assert.equal(owner.getPrincipal().toText(), setupOwner.getPrincipal().toText());
  });

  it('queries through v3, with the node signature verified', async () => {
    requests.length = 0;
    assert.equal(await counter.count(), 0n);
    assert.ok(requests.includes(`POST /api/v3/canister/${id.toText()}/query`), requests.join(', '));
    // Verifying the signature needs the subnet's node keys: read_state v3 [subnet].
    assert.ok(requests.includes(`POST /api/v3/canister/${id.toText()}/read_state`), requests.join(', '));
  });

  it('calls through v4, without falling back to v2', async () => {
    requests.length = 0;
    assert.equal(await counter.increment(), 1n);
    assert.equal(await counter.count(), 1n);
    const calls = requests.filter((r) => r.endsWith('/call'));
    assert.deepEqual(calls, [`POST /api/v4/canister/${id.toText()}/call`]);
    // The answer normally comes in the call's response; polling (read_state) happens only if the devnet took over 10 s.
  });

  it('reads module hash, controllers, time, subnet and candid through CanisterStatus', async () => {
    const status = await CanisterStatus.request({ canisterId: id, agent, paths: ['module_hash', 'controllers', 'time', 'subnet', 'candid'] });
    assert.equal(status.get('module_hash'), bytesToHex(sha256(wasm)));
    assert.deepEqual((status.get('controllers') as Principal[]).map((p) => p.toText()), [owner.getPrincipal().toText()]);
    const time = status.get('time') as Date;
    assert.ok(Math.abs(time.getTime() - Date.now()) < 5 * 60_000, `devnet time ${time.toISOString()}`);
    const subnet = status.get('subnet') as { subnetId: string; nodeKeys: Map<string, Uint8Array> };
    assert.equal(subnet.subnetId, (await agent.getSubnetIdFromCanister(id)).toText());
    assert.equal(subnet.nodeKeys.size, 1);
    assert.equal(status.get('candid'), candid);
    assert.match(candid, /increment/);
  });

  it('serves an icp:private section to a controller and refuses anyone else with 403', async () => {
    const path = new KnownPath(['canister', id.toUint8Array(), 'metadata', 'secret'], (b) => b);
    const { values } = await agent.readState({ canisterId: id }, { paths: [path] });
    assert.deepEqual(values.get(path), SECRET);

    const other = await coreAgent(devnet.url, stranger, { retryTimes: 0 });
    await assert.rejects(other.readState({ canisterId: id }, { paths: [path] }), (e: unknown) => {
      assert.ok(e instanceof AgentError && e.code instanceof HttpErrorCode, `not an HTTP error: ${String(e)}`);
      assert.equal(e.code.status, 403);
      assert.equal(e.code.bodyText, 'Custom section secret can only be requested by the controllers of the canister.');
      return true;
    });
    // The public interface is anyone's.
    const candidPath = new KnownPath(['canister', id.toUint8Array(), 'metadata', 'candid:service'], (b) => new TextDecoder().decode(b));
    assert.equal((await other.readState({ canisterId: id }, { paths: [candidPath] })).values.get(candidPath), candid);
  });

  it('proves a metadata name that does not exist absent: null, not an error', async () => {
    const raw = ['canister', id.toUint8Array(), 'metadata', 'no-such-section'].map((l) => (typeof l === 'string' ? new TextEncoder().encode(l) : l));
    const { verifiedCertificate } = await agent.readState({ canisterId: id }, { paths: [raw] });
    assert.equal(verifiedCertificate.lookup_path(raw).status, LookupPathStatus.Absent);
    const status = await CanisterStatus.request({ canisterId: id, agent, paths: [new CanisterStatus.CustomPath('missing', 'no-such-section', 'raw')] });
    assert.equal(status.get('missing'), null);
  });

  it('reads the subnet through subnet read_state v3', async () => {
    const subnetId = await agent.getSubnetIdFromCanister(id);
    requests.length = 0;
    const status = await SubnetStatus.request({ subnetId, agent, paths: ['time', 'publicKey', 'nodeKeys', 'canisterRanges'] });
    // One read_state per path, each on the subnet endpoint v3.
    assert.ok(requests.length > 0 && requests.every((r) => r === `POST /api/v3/subnet/${subnetId.toText()}/read_state`), requests.join(', '));
    assert.deepEqual(status.get('publicKey'), agent.rootKey);
    assert.equal((status.get('nodeKeys') as Map<string, Uint8Array>).size, 1);
    const ranges = status.get('canisterRanges') as [Principal, Principal][];
    assert.ok(ranges.some(([lo, hi]) => lo.compareTo(id) !== 'gt' && hi.compareTo(id) !== 'lt'), 'the canister is in the subnet ranges');
  });

  describe('bad input over raw HTTP', () => {
    async function post(path: string, body: Uint8Array | string = 'x'): Promise<{ status: number; text: string; allow: string | null }> {
      const res = await fetch(`${devnet.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: typeof body === 'string' ? body : Buffer.from(body) });
      return { status: res.status, text: await res.text(), allow: res.headers.get('allow') };
    }

    /** A read_state envelope signed by `owner`, as an agent sends it. */
    async function readStateBody(paths: (string | Uint8Array)[][]): Promise<Uint8Array> {
      const content = {
        request_type: 'read_state',
        sender: owner.getPrincipal().toUint8Array(),
        ingress_expiry: BigInt(Date.now() + 4 * 60_000) * 1_000_000n,
        paths: paths.map((p) => p.map((l) => (typeof l === 'string' ? new TextEncoder().encode(l) : l))),
      };
      // The agent's request types want its own Expiry class; the wire format is the same integer.
      const request = { endpoint: 'read_state', request: {}, body: content } as unknown as Parameters<typeof owner.transformRequest>[0];
      const { body } = await owner.transformRequest(request) as { body: unknown };
      return Cbor.encode(body);
    }

    /** After each refusal the devnet still answers a verified query. */
    const stillServing = async (): Promise<void> => assert.equal(typeof await counter.count(), 'bigint');

    it('answers an unknown API version or endpoint with 404 Endpoint not found.', async () => {
      for (const path of [`/api/v9/canister/${id.toText()}/call`, `/api/v4/canister/${id.toText()}/query`, `/api/v4/canister/${id.toText()}/read_state`, '/api/v3/status']) {
        assert.deepEqual((await post(path)), { status: 404, text: 'Endpoint not found.', allow: null }, path);
        await stillServing();
      }
    });

    it('answers GET on a POST endpoint with 405 and allow: POST', async () => {
      const res = await fetch(`${devnet.url}/api/v4/canister/${id.toText()}/call`);
      assert.equal(res.status, 405);
      assert.equal(res.headers.get('allow'), 'POST');
      assert.equal(await res.text(), '');
      await stillServing();
    });

    it('answers a canister id that is not a principal with 400 Invalid URL', async () => {
      for (const endpoint of ['call', 'query', 'read_state']) {
        for (const version of ['v2', 'v3']) {
          const r = await post(`/api/${version}/canister/this-is-not-a-valid-canister-id/${endpoint}`);
          assert.equal(r.status, 400);
          assert.ok(r.text.startsWith('Invalid URL: '), r.text);
          // What the replica's own system test (malformed_http_request) checks for this id.
          assert.ok(r.text.includes('Text must be in valid Base32 encoding.'), r.text);
        }
      }
      await stillServing();
    });

    it('answers malformed read_state paths with 404 Invalid path requested.', async () => {
      for (const paths of [[[]], [['']], [['foo']], [['canister', id.toUint8Array()]], [['canister', id.toUint8Array(), 'certified_data']]]) {
        assert.deepEqual(await post(`/api/v3/canister/${id.toText()}/read_state`, await readStateBody(paths)), { status: 404, text: 'Invalid path requested.', allow: null });
      }
      const subnet = Principal.selfAuthenticating(agent.rootKey!).toText();
      const canisterPath = await readStateBody([['canister', id.toUint8Array(), 'controllers']]);
      assert.deepEqual(await post(`/api/v3/subnet/${subnet}/read_state`, canisterPath), { status: 404, text: 'Invalid path requested.', allow: null });
      await stillServing();
    });

    it('answers more than 1000 paths with 400', async () => {
      const r = await post(`/api/v3/canister/${id.toText()}/read_state`, await readStateBody(Array.from({ length: 1001 }, () => ['time'])));
      assert.deepEqual(r, { status: 400, text: 'Too many paths in read state request: got 1001 paths, but at most 1000 are allowed.', allow: null });
      await stillServing();
    });

    it('serves a well-formed signed read_state from the same envelope builder', async () => {
      const r = await post(`/api/v3/canister/${id.toText()}/read_state`, await readStateBody([['time']]));
      assert.equal(r.status, 200);
    });
  });
});

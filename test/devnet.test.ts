// The devnet driven only through @dfinity/agent over HTTP, with the agent's
// default verification (certificates and query signatures) on.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import {
  Actor, AgentError, CanisterStatus, Certificate, CertificateVerificationErrorCode, Cbor, Expiry, HttpAgent, HttpErrorCode, pollForResponse, ReplicaRejectCode,
  requestIdOf, type ActorSubclass,
} from '@dfinity/agent';
import { IDL, idlLabelToId } from '@dfinity/candid';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { Secp256k1KeyIdentity } from '@dfinity/identity-secp256k1';
import { Principal } from '@dfinity/principal';
import { sha256 } from '@noble/hashes/sha2';
import { CMC_ID, cmcIdl } from '../devnet/cmc.ts';
import { ANONYMOUS_SEED, CYCLES_LEDGER_ID, LEDGER_FEE } from '../devnet/cycles_ledger.ts';
import { Account, cyclesLedgerIdl } from '../devnet/cycles_ledger_idl.ts';
import { startDevnetProcess, type RunningDevnet } from '../lab/devnet.ts';
import { until } from '../lab/poll.ts';
import { rejected } from './helpers/rejects.ts';
import {
  agentFor, createCanister, devnetWithTestCanister, installTestCanister, management, testCanister, testCanisterWasm, type TestCanister,
} from './helpers/testcanister.ts';

const MiB = 1024 * 1024;

/** Fails unless `p` is refused by the devnet's HTTP interface with this status. */
async function refused(p: Promise<unknown>, status: number): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    const code = e instanceof AgentError ? e.code : undefined;
    assert.ok(code instanceof HttpErrorCode, `not an HTTP error: ${String(e)}`);
    assert.equal(code.status, status);
    return true;
  });
}

async function post(url: string, body: Uint8Array | string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: typeof body === 'string' ? body : Buffer.from(body) });
  return { status: res.status, text: await res.text() };
}

describe('icboot devnet', () => {
  let devnet: RunningDevnet;
  const owner = Ed25519KeyIdentity.generate();
  let agent: HttpAgent;
  let id: Principal;
  let canister: ActorSubclass<TestCanister>;

  before(async () => {
    ({ devnet, agent, id, canister } = await devnetWithTestCanister(owner));
  });

  // Some cases restart the devnet: stop the one running now.
  after(async () => {
    await devnet?.stop();
    if (devnet) rmSync(devnet.stateDir, { recursive: true, force: true });
  });

  it('serves the status endpoint with its BLS root key', async () => {
    const res = await fetch(`${devnet.url}/api/v2/status`);
    const status = Cbor.decode<{ root_key: Uint8Array }>(new Uint8Array(await res.arrayBuffer()));
    assert.equal(status.root_key.length, 133);
    assert.deepEqual(status.root_key, agent.rootKey);
  });

  it('installs a canister through the management canister', async () => {
    assert.equal(id.toText(), 'bkyz2-fmaaa-aaaaa-qaaaq-cai');
    const status = await management(agent, id).canister_status({ canister_id: id });
    assert.equal(status.module_hash.length, 1);
    assert.deepEqual(status.settings.controllers.map((p) => p.toText()), [owner.getPrincipal().toText()]);
    assert.deepEqual(await canister.lifecycle(), { installs: 1n, upgrades: 0n });
  });

  it('runs updates and queries', async () => {
    const before = await canister.count();
    assert.equal(await canister.increment(), before + 1n);
    assert.equal(await canister.count(), before + 1n);
    await canister.put('hello', new Uint8Array([1, 2, 3]));
    assert.deepEqual(await canister.get('hello'), [new Uint8Array([1, 2, 3])]);
  });

  it('does not persist what a query changes', async () => {
    const before = await canister.count();
    assert.equal(await canister.incrementInQuery(), before + 1n);
    assert.equal(await canister.count(), before);
    assert.deepEqual(await canister.get('from-query'), []);
  });

  it('rolls back heap and stable memory when a message traps', async () => {
    const before = await canister.count();
    await rejected(canister.putThenTrap('doomed'), ReplicaRejectCode.CanisterError, 'IC0503');
    assert.equal(await canister.count(), before);
    assert.deepEqual(await canister.get('doomed'), []);
    // The instance still works after the trap.
    assert.equal(await canister.increment(), before + 1n);
  });

  it('answers from a callback after a call to itself, and fires timers', async () => {
    const before = await canister.count();
    assert.equal(await canister.incrementAfterSelfCall(), before + 1n);
    const ticks = await canister.tickCount();
    await canister.scheduleTick();
    await until(async () => (await canister.tickCount()) !== ticks, 'timer fired', 10_000);
    assert.equal(await canister.tickCount(), ticks + 1n);
  });

  it('issues data certificates that verify against the root key', async () => {
    const data = new Uint8Array(32).fill(7);
    await canister.certify(data);
    const [raw] = await canister.certificate();
    assert.ok(raw, 'a query must see a data certificate');
    const cert = await Certificate.create({ certificate: raw, rootKey: agent.rootKey!, canisterId: id });
    const found = cert.lookup_path(['canister', id.toUint8Array(), 'certified_data']);
    assert.deepEqual(found, { status: 'Found', value: data });
    // A certificate checked against another key fails.
    const other = await agentFor(devnet.url);
    const wrongKey = new Uint8Array(other.rootKey!);
    wrongKey[wrongKey.length - 1] ^= 1;
    await assert.rejects(
      Certificate.create({ certificate: raw, rootKey: wrongKey, canisterId: id }),
      (e: unknown) => e instanceof AgentError && e.code instanceof CertificateVerificationErrorCode,
    );
  });

  it('verifies secp256k1 senders and serves the v2 call + read_state path', async () => {
    const secp = Secp256k1KeyIdentity.generate();
    const a = await agentFor(devnet.url, secp);
    const before = await testCanister(a, id).count();
    assert.equal(await testCanister(a, id).increment(), before + 1n);
    const { requestId } = await a.call(id, { methodName: 'increment', arg: IDL.encode([], []), effectiveCanisterId: id, callSync: false });
    const { reply } = await pollForResponse(a, id, requestId);
    assert.deepEqual(IDL.decode([IDL.Nat64], reply), [before + 2n]);
  });

  it('enforces the ingress and reply limits', async () => {
    const strict = await agentFor(devnet.url, owner, 0);
    await refused(testCanister(strict, id).put('big', new Uint8Array(2 * MiB)), 413);
    await canister.put('almost', new Uint8Array(2 * MiB - 1024));
    assert.equal((await canister.get('almost'))[0]?.length, 2 * MiB - 1024);
    assert.equal((await canister.blobQuery(3 * MiB - 64)).length, 3 * MiB - 64);
    await rejected(canister.blobQuery(3 * MiB), ReplicaRejectCode.CanisterError, 'IC0504');
    assert.equal((await canister.blobUpdate(2 * MiB - 64)).length, 2 * MiB - 64);
    await rejected(canister.blobUpdate(2 * MiB), ReplicaRejectCode.CanisterError, 'IC0504');
  });

  it('lets only controllers install code', async () => {
    const before = await canister.count();
    const lifecycle = await canister.lifecycle();
    const stranger = await agentFor(devnet.url, Ed25519KeyIdentity.generate());
    await rejected(installTestCanister(stranger, 'reinstall', id), ReplicaRejectCode.CanisterError, 'IC0512');
    await rejected(management(stranger, id).canister_status({ canister_id: id }), ReplicaRejectCode.CanisterError, 'IC0512');
    assert.equal(await canister.count(), before, 'state is untouched');
    assert.deepEqual(await canister.lifecycle(), lifecycle, 'no install or upgrade happened');
  });

  it('answers garbage with HTTP errors and keeps serving', async () => {
    const before = await canister.count();
    const q = `${devnet.url}/api/v2/canister/${id.toText()}/query`;
    const garbage = await post(q, new Uint8Array([0xff, 0x00, 0x13, 0x37]));
    assert.equal(garbage.status, 400);
    assert.equal((await post(q, Cbor.encode({ hello: 'world' }))).status, 400);
    assert.equal((await post(q, Cbor.encode([1, 2, 3]))).status, 400);
    // Error bodies are one line: no JavaScript stack frames from the CBOR decoder.
    const empty = await post(q, new Uint8Array(0));
    assert.equal(empty.status, 400);
    assert.match(empty.text, /^Could not parse body as query message: .*CBOR/);
    assert.ok(!empty.text.includes('\n'), empty.text);
    assert.equal((await post(`${devnet.url}/api/v2/canister/not-a-principal/query`, 'x')).status, 400);
    assert.equal((await post(`${devnet.url}/api/v9/whatever`, 'x')).status, 404);
    assert.equal((await post(q, new Uint8Array(3 * MiB))).status, 413);

    const content = {
      request_type: 'query', canister_id: id.toUint8Array(), method_name: 'count', arg: IDL.encode([], []),
      sender: Principal.anonymous().toUint8Array(), ingress_expiry: Expiry.fromDeltaInMilliseconds(60_000),
    };
    const expired = { ...content, ingress_expiry: BigInt(Date.now() - 60_000) * 1_000_000n };
    const late = await post(q, Cbor.encode({ content: expired }));
    assert.equal(late.status, 400);
    assert.match(late.text, /^Invalid request expiry: /);

    // A signature that does not match the request is refused.
    const signer = Ed25519KeyIdentity.generate();
    const signed = { ...content, sender: signer.getPrincipal().toUint8Array() };
    const forged = await post(q, Cbor.encode({
      content: signed,
      sender_pubkey: signer.getPublicKey().toDer(),
      sender_sig: await signer.sign(new Uint8Array(requestIdOf({ ...signed, method_name: 'other' }))),
    }));
    assert.equal(forged.status, 400);
    assert.match(forged.text, /Invalid signature/);

    const missing = testCanister(agent, Principal.fromText('bd3sg-teaaa-aaaaa-qaaba-cai'));
    await rejected(missing.count(), ReplicaRejectCode.DestinationInvalid, 'IC0301');
    const elsewhere = testCanister(await agentFor(devnet.url, owner, 0), Principal.fromText('ryjl3-tyaaa-aaaaa-aaaba-cai'));
    await refused(elsewhere.count(), 400);
    // Still serving, and nothing changed.
    assert.equal(await canister.count(), before);
  });

  it('refuses a hostile Candid argument to the management canister and stays up', async () => {
    const before = await canister.count();
    // `junk: vec null` claiming a billion elements: a few bytes that would
    // otherwise make the decoder build a billion-element array.
    const T = IDL.Record({ canister_id: IDL.Principal, junk: IDL.Vec(IDL.Null) });
    const base = new Uint8Array(IDL.encode([T], [{ canister_id: id, junk: [] }]));
    const principalBytes = 2 + id.toUint8Array().length;
    const at = idlLabelToId('junk') > idlLabelToId('canister_id') ? base.length - 1 : base.length - principalBytes - 1;
    assert.equal(base[at], 0, 'found the vector length');
    const billion = [0x80, 0x94, 0xeb, 0xdc, 0x03];
    const arg = new Uint8Array([...base.subarray(0, at), ...billion, ...base.subarray(at + 1)]);
    await rejected(
      agent.call(Principal.managementCanister(), { methodName: 'canister_status', arg, effectiveCanisterId: id })
        .then(({ requestId }) => pollForResponse(agent, id, requestId)),
      ReplicaRejectCode.CanisterReject, 'IC0406',
    );
    // Still serving updates: the devnet did not run out of memory decoding the argument.
    assert.equal(await canister.increment(), before + 1n);
  });

  it('does not grow the heap for queries that allocate', async () => {
    const status = management(agent, id);
    const heap = async (): Promise<bigint> => (await status.canister_status({ canister_id: id })).memory_metrics.wasm_memory_size;
    await canister.blobQuery(3 * MiB - 64);
    const before = await heap();
    for (let i = 0; i < 5; i++) await canister.blobQuery(3 * MiB - 64 - i);
    assert.equal(await heap(), before);
  });

  it('keeps stable memory across an upgrade and drops the heap', async () => {
    await canister.put('survivor', new Uint8Array([4, 2]));
    assert.ok((await canister.count()) > 0n);
    await installTestCanister(agent, 'upgrade', id);
    assert.deepEqual(await canister.get('survivor'), [new Uint8Array([4, 2])]);
    assert.equal(await canister.count(), 0n);
    assert.deepEqual(await canister.lifecycle(), { installs: 1n, upgrades: 1n });
    // Certified data survives the upgrade too.
    const [raw] = await canister.certificate();
    const cert = await Certificate.create({ certificate: raw!, rootKey: agent.rootKey!, canisterId: id });
    assert.deepEqual(cert.lookup_path(['canister', id.toUint8Array(), 'certified_data']).status, 'Found');
  });

  it('keeps acknowledged writes when the devnet is killed', async () => {
    await canister.put('before-kill', new Uint8Array([6, 6]));
    devnet.process.kill('SIGKILL');
    await devnet.stop();
    devnet = await startDevnetProcess(devnet.stateDir);
    agent = await agentFor(devnet.url, owner);
    canister = testCanister(agent, id);
    assert.deepEqual(await canister.get('before-kill'), [new Uint8Array([6, 6])]);
  });

  it('keeps stable memory, keys and certified data across a restart', async () => {
    await canister.put('acknowledged', new Uint8Array([1, 9, 8, 4]));
    const code = await devnet.stop();
    assert.equal(code, 0, 'SIGTERM ends the devnet cleanly');
    devnet = await startDevnetProcess(devnet.stateDir);
    // Agents keep their fetched root key: the restarted devnet must sign with the same one.
    const rootKey = agent.rootKey;
    agent = await HttpAgent.create({ host: devnet.url, identity: owner, shouldFetchRootKey: true });
    assert.deepEqual(agent.rootKey, rootKey);
    const c = testCanister(agent, id);
    assert.deepEqual(await c.get('acknowledged'), [new Uint8Array([1, 9, 8, 4])]);
    assert.deepEqual(await c.get('survivor'), [new Uint8Array([4, 2])]);
    assert.deepEqual(await c.lifecycle(), { installs: 1n, upgrades: 3n });
    const [raw] = await c.certificate();
    const cert = await Certificate.create({ certificate: raw!, rootKey: agent.rootKey!, canisterId: id });
    assert.deepEqual(cert.lookup_path(['canister', id.toUint8Array(), 'certified_data']), { status: 'Found', value: new Uint8Array(32).fill(7) });
    // The next canister gets a fresh id, not a reused one.
    assert.equal((await createCanister(agent)).toText(), 'bd3sg-teaaa-aaaaa-qaaba-cai');
  });

  it('installs a module from the chunk store', async () => {
    const target = await createCanister(agent);
    const m = management(agent, target);
    const wasm = await testCanisterWasm();
    const parts = [wasm.subarray(0, MiB), wasm.subarray(MiB)];
    const hashes = [];
    for (const chunk of parts) hashes.push(await m.upload_chunk({ canister_id: target, chunk }));
    assert.equal((await m.stored_chunks({ canister_id: target })).length, 2);
    await rejected(m.install_chunked_code({
      mode: { install: null }, target_canister: target, store_canister: [], chunk_hashes_list: hashes.slice().reverse(),
      wasm_module_hash: sha256(wasm), arg: new Uint8Array(IDL.encode([], [])), sender_canister_version: [],
    }), ReplicaRejectCode.CanisterError, 'IC0539');
    await m.install_chunked_code({
      mode: { install: null }, target_canister: target, store_canister: [], chunk_hashes_list: hashes,
      wasm_module_hash: sha256(wasm), arg: new Uint8Array(IDL.encode([], [])), sender_canister_version: [],
    });
    assert.deepEqual(await testCanister(agent, target).lifecycle(), { installs: 1n, upgrades: 0n });
  });
});

describe('icboot devnet: the cycles ledger and the CMC', () => {
  type Ok<T> = { Ok: T } | { Err: Record<string, unknown> };
  interface Ledger {
    icrc1_balance_of(a: { owner: Principal; subaccount: [] }): Promise<bigint>;
    icrc1_transfer(a: object): Promise<Ok<bigint>>;
    create_canister(a: object): Promise<Ok<{ canister_id: Principal; block_id: bigint }>>;
    withdraw(a: object): Promise<Ok<bigint>>;
  }
  const T = 1_000_000_000_000n;
  const alice = Ed25519KeyIdentity.generate();
  let devnet: RunningDevnet;
  const ledger = (agent: HttpAgent): ActorSubclass<Ledger> => Actor.createActor<Ledger>(cyclesLedgerIdl, { agent, canisterId: CYCLES_LEDGER_ID });
  const balance = async (agent: HttpAgent, owner: Principal): Promise<bigint> => ledger(agent).icrc1_balance_of({ owner, subaccount: [] });

  before(async () => {
    devnet = await startDevnetProcess();
  });
  after(async () => {
    await devnet?.stop();
    if (devnet) rmSync(devnet.stateDir, { recursive: true, force: true });
  });

  it('funds users from the anonymous account and creates and tops up their canisters, through signed queries and certified calls', async () => {
    const anonymous = await agentFor(devnet.url);
    const agent = await agentFor(devnet.url, alice);
    const me = alice.getPrincipal();
    // The agent checks each queried canister lies in the subnet's certified ranges.
    const cmc = Actor.createActor<{ get_default_subnets(): Promise<Principal[]> }>(cmcIdl, { agent, canisterId: CMC_ID });
    assert.deepEqual((await cmc.get_default_subnets()).map((p) => p.toText()), [Principal.selfAuthenticating(agent.rootKey!).toText()]);
    assert.equal(await balance(anonymous, Principal.anonymous()), ANONYMOUS_SEED);

    const to = { owner: me, subaccount: [] };
    assert.deepEqual(await ledger(anonymous).icrc1_transfer({ from_subaccount: [], to, amount: 5n * T, fee: [], memo: [], created_at_time: [] }), { Ok: 1n });
    assert.equal(await balance(agent, me), 5n * T);

    const made = await ledger(agent).create_canister({ from_subaccount: [], created_at_time: [], amount: 2n * T, creation_args: [] });
    assert.ok('Ok' in made, JSON.stringify(made, (_, v) => (typeof v === 'bigint' ? v.toString() : v)));
    const id = made.Ok.canister_id;
    const status = await CanisterStatus.request({ canisterId: id, agent, paths: ['controllers'] });
    assert.deepEqual((status.get('controllers') as Principal[]).map((p) => p.toText()), [me.toText()]);
    assert.deepEqual(await ledger(agent).withdraw({ amount: T, from_subaccount: [], to: id, created_at_time: [] }), { Ok: 3n });
    assert.equal(await balance(agent, me), 2n * T - 2n * LEDGER_FEE);
    assert.deepEqual(await ledger(agent).create_canister({ from_subaccount: [], created_at_time: [], amount: 5n * T, creation_args: [] }),
      { Err: { InsufficientFunds: { balance: 2n * T - 2n * LEDGER_FEE } } });

    // Balances and the block count survive a restart.
    await devnet.stop();
    devnet = await startDevnetProcess(devnet.stateDir);
    const again = await agentFor(devnet.url, alice);
    assert.equal(await balance(again, me), 2n * T - 2n * LEDGER_FEE);
    assert.deepEqual(await ledger(again).icrc1_transfer({ from_subaccount: [], to: { owner: Principal.anonymous(), subaccount: [] }, amount: T, fee: [], memo: [], created_at_time: [] }), { Ok: 4n });
  });

  it('refuses a query whose argument holds a 100 KB nat, unread, and answers the next one', async () => {
    const anonymous = await agentFor(devnet.url);
    const account = { owner: Principal.anonymous(), subaccount: [] };
    // icrc1_balance_of(account, nat): a decoder skips the extra nat, but reading it is quadratic in its length.
    const arg = new Uint8Array(IDL.encode([Account, IDL.Nat], [account, 0n]));
    const hostile = new Uint8Array([...arg.subarray(0, -1), ...new Uint8Array(100_000).fill(0xff), 0x01]);
    const reply = await anonymous.query(CYCLES_LEDGER_ID, { methodName: 'icrc1_balance_of', arg: hostile });
    assert.equal(reply.status, 'rejected');
    assert.deepEqual(reply.status === 'rejected' && [reply.reject_code, reply.error_code], [ReplicaRejectCode.CanisterError, 'IC0503']);
    assert.equal(typeof await balance(anonymous, Principal.anonymous()), 'bigint');
  });
});

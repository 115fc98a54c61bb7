// The management canister against a real registry and a real (hand-written)
// wasm module: status and settings as icp-cli decodes them, and canister logs.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import wabt from 'wabt';
import { MANAGEMENT_METHODS } from '../common/management_idl.ts';
import { executionOptions, type Canister } from './canister.ts';
import { RejectError } from './errors.ts';
import { ManagementCanister } from './management.ts';
import type { MessageKind } from './message.ts';
import { CanisterRegistry } from './registry.ts';

const owner = Principal.fromText('2vxsx-fae');
const stranger = Principal.fromText('aaaaa-aa');
const viewer = Principal.fromText('rrkah-fqaaa-aaaaa-aaaaq-cai');
const T0 = 1_700_000_000_000_000_000n;

const { parseWat } = await wabt();
const m = parseWat('log.wat', `(module
  (import "ic0" "debug_print" (func $print (param i32 i32)))
  (import "ic0" "trap" (func $trap (param i32 i32)))
  (import "ic0" "msg_reply" (func $reply))
  (memory (export "memory") 1)
  (data (i32.const 0) "hello")
  (data (i32.const 16) "boom")
  (data (i32.const 32) "init")
  (func (export "canister_init") i32.const 32 i32.const 4 call $print)
  (func (export "canister_update print") i32.const 0 i32.const 5 call $print call $reply)
  (func (export "canister_update fail") i32.const 0 i32.const 5 call $print i32.const 16 i32.const 4 call $trap)
  (func (export "canister_query peek") i32.const 0 i32.const 5 call $print call $reply))`, {});
const WASM = m.toBinary({}).buffer;
m.destroy();

type Methods = typeof MANAGEMENT_METHODS;
type Name = keyof Methods;
const encode = (name: Name, arg: unknown): Uint8Array => {
  const t = MANAGEMENT_METHODS[name].arg;
  return new Uint8Array(IDL.encode(t ? [t] : [], t ? [arg] : []));
};
const decode = (name: Name, bytes: Uint8Array): unknown => IDL.decode([...MANAGEMENT_METHODS[name].ret], bytes)[0];

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface Net { registry: CanisterRegistry; ic: ManagementCanister; c: Canister; state: string }
function devnet(): Net {
  const state = mkdtempSync(join(tmpdir(), 'icboot-mgmt-'));
  dirs.push(state);
  const registry = new CanisterRegistry(state, () => {}, executionOptions());
  const ic = new ManagementCanister(registry, () => {});
  const created = decode('provisional_create_canister_with_cycles', ic.handle(owner, 'provisional_create_canister_with_cycles',
    encode('provisional_create_canister_with_cycles', { amount: [], settings: [], specified_id: [], sender_canister_version: [] }), 'ingress', T0)) as { canister_id: Principal };
  ic.handle(owner, 'install_code', encode('install_code', {
    mode: { install: null }, canister_id: created.canister_id, wasm_module: WASM, arg: new Uint8Array(), sender_canister_version: [],
  }), 'ingress', T0);
  return { registry, ic, c: registry.get(created.canister_id), state };
}

function run(c: Canister, kind: MessageKind, method: string, time: bigint): void {
  const entry = `${kind === 'query' ? 'canister_query' : 'canister_update'} ${method}`;
  c.execute({ kind, method, arg: new Uint8Array(), caller: owner.toUint8Array(), time, cycles: 0n, responded: false, maxReplyBytes: 1 << 20 }, entry, kind !== 'query');
}

interface Records { canister_log_records: { idx: bigint; timestamp_nanos: bigint; content: Uint8Array }[] }
function logs(n: Net, caller = owner, filter: unknown[] = []): [bigint, bigint, string][] {
  const bytes = n.ic.query(caller, 'fetch_canister_logs', encode('fetch_canister_logs', { canister_id: n.c.id, filter }));
  return (decode('fetch_canister_logs', bytes) as Records).canister_log_records
    .map((r) => [r.idx, r.timestamp_nanos, new TextDecoder().decode(r.content)]);
}

const settings = (s: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(
  ['controllers', 'compute_allocation', 'memory_allocation', 'freezing_threshold', 'reserved_cycles_limit',
    'minimum_incoming_canister_call_cycles', 'log_visibility', 'log_memory_limit', 'snapshot_visibility', 'status_visibility',
    'wasm_memory_limit', 'wasm_memory_threshold', 'environment_variables'].map((k) => [k, k in s ? [s[k]] : []]));
function update(n: Net, s: Record<string, unknown>, caller = owner): void {
  n.ic.handle(caller, 'update_settings', encode('update_settings', { canister_id: n.c.id, settings: settings(s), sender_canister_version: [] }), 'ingress', T0);
}
function status(n: Net, caller = owner): Record<string, any> {
  return decode('canister_status', n.ic.handle(caller, 'canister_status', encode('canister_status', { canister_id: n.c.id }), 'ingress', T0)) as Record<string, any>;
}
const rejects = (f: () => unknown, errorCode: string): void => assert.throws(f, (e) => e instanceof RejectError && e.errorCode === errorCode);

describe('canister_status', () => {
  it('reports the replica defaults for a new canister', () => {
    const s = status(devnet());
    assert.deepEqual(s.settings.log_visibility, { controllers: null });
    assert.deepEqual(s.settings.status_visibility, { controllers: null });
    assert.equal(s.settings.log_memory_limit, 4096n);
    assert.equal(s.settings.wasm_memory_limit, 3n * 1024n ** 3n);
    assert.deepEqual(s.settings.environment_variables, []);
    assert.equal(s.memory_metrics.snapshots_size, 0n);
    // canister_init printed "init": one 44-byte record.
    assert.equal(s.memory_metrics.log_memory_store_size, 44n);
  });

  it('is for controllers unless status_visibility says otherwise', () => {
    const n = devnet();
    rejects(() => status(n, viewer), 'IC0512');
    update(n, { status_visibility: { allowed_viewers: [viewer] } });
    assert.equal(status(n, viewer).settings.controllers[0].toText(), owner.toText());
    rejects(() => status(n, stranger), 'IC0512');
  });
});

describe('update_settings', () => {
  it('stores every field and echoes it in canister_status, env vars by name', () => {
    const n = devnet();
    update(n, {
      compute_allocation: 5n, memory_allocation: 1n << 30n, reserved_cycles_limit: 7n, minimum_incoming_canister_call_cycles: 9n,
      wasm_memory_limit: 1n << 31n, wasm_memory_threshold: 1n << 20n, log_memory_limit: 8192n,
      log_visibility: { public: null }, snapshot_visibility: { allowed_viewers: [viewer] },
      environment_variables: [{ name: 'Z', value: '1' }, { name: 'A', value: '2' }],
    });
    const s = status(n).settings;
    assert.deepEqual(
      [s.compute_allocation, s.memory_allocation, s.reserved_cycles_limit, s.minimum_incoming_canister_call_cycles, s.wasm_memory_limit, s.wasm_memory_threshold, s.log_memory_limit],
      [5n, 1n << 30n, 7n, 9n, 1n << 31n, 1n << 20n, 8192n]);
    assert.deepEqual(s.log_visibility, { public: null });
    assert.equal(s.snapshot_visibility.allowed_viewers[0].toText(), viewer.toText());
    assert.deepEqual(s.environment_variables, [{ name: 'A', value: '2' }, { name: 'Z', value: '1' }]);
  });

  it('leaves fields it is not given alone', () => {
    const n = devnet();
    update(n, { environment_variables: [{ name: 'A', value: '1' }] });
    update(n, { freezing_threshold: 100n });
    const s = status(n);
    assert.deepEqual(s.settings.environment_variables, [{ name: 'A', value: '1' }]);
    assert.equal(s.settings.freezing_threshold, 100n);
    // install made version 1; each update_settings is one more.
    assert.equal(s.version, 3n);
  });

  it('refuses what the replica refuses', () => {
    const n = devnet();
    const many = Array.from({ length: 21 }, (_, i) => ({ name: `V${i}`, value: '' }));
    rejects(() => update(n, { environment_variables: many }), 'IC0408');
    rejects(() => update(n, { environment_variables: [{ name: 'N'.repeat(129), value: '' }] }), 'IC0408');
    rejects(() => update(n, { environment_variables: [{ name: 'N', value: 'v'.repeat(129) }] }), 'IC0408');
    rejects(() => update(n, { log_memory_limit: 2n * 1024n * 1024n + 1n }), 'IC0406');
    rejects(() => update(n, { compute_allocation: 101n }), 'IC0408');
    rejects(() => update(n, { controllers: Array.from({ length: 11 }, () => owner) }), 'IC0406');
    rejects(() => update(n, { log_visibility: { public: null } }, viewer), 'IC0512');
    // A refused update changes nothing, not even the fields that were valid.
    rejects(() => update(n, { controllers: [viewer], compute_allocation: 101n }), 'IC0408');
    const s = status(n);
    assert.deepEqual(s.settings.controllers.map((p: Principal) => p.toText()), [owner.toText()]);
    assert.deepEqual(s.settings.environment_variables, []);
  });

  it('persists, and a meta.json from before these settings still loads', () => {
    const n = devnet();
    update(n, { log_visibility: { public: null }, environment_variables: [{ name: 'A', value: '1' }] });
    n.registry.close();
    const again = new CanisterRegistry(n.state, () => {}, executionOptions());
    again.restore(() => T0);
    assert.deepEqual(again.get(n.c.id).settings.logVisibility, { public: null });
    const metaFile = join(n.state, 'canisters', n.c.id.toText(), 'meta.json');
    const meta = JSON.parse(readFileSync(metaFile, 'utf8'));
    delete meta.settings;
    writeFileSync(metaFile, JSON.stringify(meta));
    again.close();
    const old = new CanisterRegistry(n.state, () => {}, executionOptions());
    old.restore(() => T0);
    assert.deepEqual(old.get(n.c.id).settings.environmentVariables, []);
    old.close();
  });
});

describe('provisional_create_canister_with_cycles', () => {
  it('creates with the settings it is given, at version 0, and refuses bad ones before creating', () => {
    const n = devnet();
    const create = (s: Record<string, unknown>) => decode('provisional_create_canister_with_cycles', n.ic.handle(owner, 'provisional_create_canister_with_cycles',
      encode('provisional_create_canister_with_cycles', { amount: [], settings: [settings(s)], specified_id: [], sender_canister_version: [] }), 'ingress', T0)) as { canister_id: Principal };
    const { canister_id } = create({ log_visibility: { public: null }, freezing_threshold: 7n, environment_variables: [{ name: 'K', value: 'v' }] });
    const s = status({ ...n, c: n.registry.get(canister_id) });
    assert.equal(s.version, 0n);
    assert.deepEqual([s.settings.log_visibility, s.settings.freezing_threshold, s.settings.environment_variables], [{ public: null }, 7n, [{ name: 'K', value: 'v' }]]);
    assert.equal(s.settings.controllers[0].toText(), owner.toText());
    const before = [...n.registry.all()].length;
    rejects(() => create({ compute_allocation: 200n }), 'IC0408');
    assert.equal([...n.registry.all()].length, before);
  });
});

describe('hostile arguments', () => {
  /** The method's argument followed by one more, a nat 100 KB long: quadratic to decode, so refused unread. */
  const withLongNat = (name: Name, arg: unknown): Uint8Array => {
    const bytes = new Uint8Array(IDL.encode([MANAGEMENT_METHODS[name].arg!, IDL.Nat], [arg, 0n]));
    return new Uint8Array([...bytes.subarray(0, -1), ...new Uint8Array(100_000).fill(0xff), 0x01]);
  };

  it('refuses a long nat before decoding it, in calls, queries and the effective-id lookup, and still answers', () => {
    const n = devnet();
    const topUp = { canister_id: n.c.id, amount: 5n };
    rejects(() => n.ic.handle(owner, 'provisional_top_up_canister', withLongNat('provisional_top_up_canister', topUp), 'ingress', T0), 'IC0406');
    assert.equal(n.ic.target('provisional_top_up_canister', withLongNat('provisional_top_up_canister', topUp)), null);
    rejects(() => n.ic.query(owner, 'fetch_canister_logs', withLongNat('fetch_canister_logs', { canister_id: n.c.id, filter: [] })), 'IC0406');
    const before = n.c.balance();
    n.ic.handle(owner, 'provisional_top_up_canister', encode('provisional_top_up_canister', topUp), 'ingress', T0);
    assert.equal(n.c.balance(), before + 5n);
    assert.equal(n.ic.target('provisional_top_up_canister', encode('provisional_top_up_canister', topUp))?.toText(), n.c.id.toText());
  });
});

describe('canister logs', () => {
  it('keeps prints and traps of replicated messages, not of queries', () => {
    const n = devnet();
    run(n.c, 'update', 'print', T0 + 1n);
    run(n.c, 'query', 'peek', T0 + 2n);
    run(n.c, 'update', 'fail', T0 + 3n);
    assert.deepEqual(logs(n), [
      [0n, T0, 'init'], [1n, T0 + 1n, 'hello'], [2n, T0 + 3n, 'hello'], [3n, T0 + 3n, '[TRAP]: boom'],
    ]);
    assert.deepEqual(logs(n, owner, [{ by_idx: { start: 1n, end: 3n } }]).map(([i]) => i), [1n, 2n]);
  });

  it('follows log_visibility', () => {
    const n = devnet();
    rejects(() => logs(n, viewer), 'IC0406');
    update(n, { log_visibility: { allowed_viewers: [viewer] } });
    assert.equal(logs(n, viewer).length, 1);
    rejects(() => logs(n, stranger), 'IC0406');
    update(n, { log_visibility: { public: null } });
    assert.equal(logs(n, stranger).length, 1);
  });

  it('survives a restart and an upgrade; reinstall and uninstall clear it', () => {
    const n = devnet();
    run(n.c, 'update', 'print', T0 + 1n);
    n.registry.close();
    const registry = new CanisterRegistry(n.state, () => {}, executionOptions());
    registry.restore(() => T0 + 5n);
    const ic = new ManagementCanister(registry, () => {});
    const again: Net = { ...n, registry, ic, c: registry.get(n.c.id) };
    assert.deepEqual(logs(again).map(([, , t]) => t), ['init', 'hello']);
    const install = (mode: unknown) => ic.handle(owner, 'install_code', encode('install_code', {
      mode, canister_id: n.c.id, wasm_module: WASM, arg: new Uint8Array(), sender_canister_version: [],
    }), 'ingress', T0 + 6n);
    install({ upgrade: [] });
    assert.deepEqual(logs(again).map(([, , t]) => t), ['init', 'hello']);
    install({ reinstall: null });
    assert.deepEqual(logs(again), [[2n, T0 + 6n, 'init']]);
    ic.handle(owner, 'uninstall_code', encode('uninstall_code', { canister_id: n.c.id, sender_canister_version: [] }), 'ingress', T0);
    assert.deepEqual(logs(again), []);
    registry.close();
  });

  it('answers only as a query, and is the only query aaaaa-aa answers', () => {
    const n = devnet();
    rejects(() => n.ic.handle(owner, 'fetch_canister_logs', encode('fetch_canister_logs', { canister_id: n.c.id, filter: [] }), 'ingress', T0), 'IC0406');
    rejects(() => n.ic.query(owner, 'canister_status', encode('canister_status', { canister_id: n.c.id })), 'IC0536');
    rejects(() => n.ic.query(owner, 'fetch_canister_logs', encode('fetch_canister_logs', { canister_id: viewer, filter: [] })), 'IC0301');
  });
});

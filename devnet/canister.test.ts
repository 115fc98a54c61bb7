// A canister running hand-written modules under metering: every count below is
// worked out by hand from the replica's cost table (block costs are charged
// when a block starts, the function's entry block starts at 1, System API fees
// come on top), so a change in any rule shows up as a wrong number.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Principal } from '@dfinity/principal';
import wabt from 'wabt';
import { Canister, executionOptions, type ExecutionOptions } from './canister.ts';
import { RejectError } from './errors.ts';
import type { Message, MessageKind, Outcome } from './message.ts';
import { REPLICA_LIMITS } from './limits.ts';
import { MAX_RECORD_CONTENT } from './canister_log.ts';
import { MAX_METADATA_SECTIONS } from './wasm_metadata.ts';
import { withMetadata } from '../canister/metadata.ts';

const owner = Principal.fromText('2vxsx-fae');
const T0 = 1_700_000_000_000_000_000n;
const SECOND = 1_000_000_000n;

const { parseWat } = await wabt();
function wat(text: string): Uint8Array {
  const m = parseWat('test.wat', text, { bulk_memory: true });
  try {
    return m.toBinary({}).buffer;
  } finally {
    m.destroy();
  }
}

/** Every export is one probe; costs are in the comments, summed block by block. */
const PROBES = wat(`(module
  (import "ic0" "msg_reply" (func $reply))
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "performance_counter" (func $pc (param i32) (result i64)))
  (import "ic0" "stable64_grow" (func $grow (param i64) (result i64)))
  (import "ic0" "stable64_read" (func $sread (param i64 i64 i64)))
  (import "ic0" "stable64_write" (func $swrite (param i64 i64 i64)))
  (import "ic0" "certified_data_set" (func $certify (param i32 i32)))
  (memory (export "memory") 17)

  ;; entry 1 + loop 0; head block: local.get 1, i32.const 1, i32.sub 1, local.tee 1, br_if 2 = 6 per turn
  (func $loop (param $n i32)
    (loop $l
      local.get $n
      i32.const 1
      i32.sub
      local.tee $n
      br_if $l))

  ;; 1 + i32.const 1 + call 5 + call 5 = 12, then loop 1 + 6n, msg_reply 500
  (func (export "canister_update loop1") i32.const 1 call $loop call $reply)
  (func (export "canister_update loop10") i32.const 10 call $loop call $reply)
  (func (export "canister_update loop1000") i32.const 1000 call $loop call $reply)

  ;; 1 + 1 + 1 + 5 + 5 = 13; append 500 + 50 per byte; msg_reply 500
  (func (export "canister_update reply0") i32.const 0 i32.const 0 call $append call $reply)
  (func (export "canister_update reply1") i32.const 0 i32.const 1 call $append call $reply)
  (func (export "canister_update reply1M") i32.const 0 i32.const 1048576 call $append call $reply)

  ;; entry 1 + (1+5+1) + 3*(3+5) + 5 = 37
  ;; grow 100; 8 KiB at 0: 20 + 8192 + 2 fresh pages * 1000; again: 20 + 8192;
  ;; 2 bytes at 12287 (pages 2 and 3): 20 + 2 + 2 * 1000; msg_reply 500
  (func (export "canister_update stable")
    i64.const 1 call $grow drop
    i64.const 0 i64.const 0 i64.const 8192 call $swrite
    i64.const 0 i64.const 0 i64.const 8192 call $swrite
    i64.const 12287 i64.const 0 i64.const 2 call $swrite
    call $reply)

  ;; entry 1 + (3+5) + 5 = 14; read 20 + 4096 (no page fee); msg_reply 500
  (func (export "canister_update read") i64.const 0 i64.const 0 i64.const 4096 call $sread call $reply)

  ;; entry 1 + 8 + 8 + 7 + 5 = 29. The whole block is charged before the first
  ;; call, so the counters read 29 + 200 and 29 + 400; append 500 + 16 * 50; msg_reply 500
  (func (export "canister_update pc")
    i32.const 0 i32.const 0 call $pc i64.store
    i32.const 8 i32.const 0 call $pc i64.store
    i32.const 0 i32.const 16 call $append
    call $reply)
  (func (export "canister_update pc1")
    i32.const 0 i32.const 1 call $pc i64.store
    i32.const 0 i32.const 8 call $append
    call $reply)

  ;; entry 1 + (1+1+1+5+1) + (1+5+1) + (1+1+5) + 0 (loop) = 25, then spins
  (func (export "canister_update write_then_spin")
    i32.const 100 i32.const 42 i32.store8
    i64.const 1 call $grow drop
    i32.const 200 i32.const 1 call $certify
    i64.const 0 i64.const 100 i64.const 1 call $swrite
    (loop $l br $l))
  (func (export "canister_update spin") (loop $l br $l))
  (func (export "canister_query spin_query") (loop $l br $l))
  (func (export "canister_query noop") call $reply)

  ;; the heap byte at 100 and the stable byte at 0, to check what a message left behind
  (func (export "canister_query probe")
    i32.const 0 i32.const 100 i32.load8_u i32.store8
    i64.const 1 i64.const 0 i64.const 1 call $sread
    i32.const 0 i32.const 2 call $append
    call $reply)
)`);

const dirs: string[] = [];
function canister(options: Partial<ExecutionOptions> = {}, cycles = 100_000_000_000_000n): Canister {
  const root = mkdtempSync(join(tmpdir(), 'icboot-canister-'));
  dirs.push(root);
  const c = Canister.create(root, Principal.fromText('bkyz2-fmaaa-aaaaa-qaaaq-cai'), [owner], cycles, () => {}, executionOptions(options), T0);
  c.install('install', PROBES, new Uint8Array(), owner.toUint8Array(), T0);
  return c;
}

function message(kind: MessageKind, method: string, time = T0): Message {
  return { kind, method, arg: new Uint8Array(), caller: owner.toUint8Array(), time, cycles: 0n, responded: false, maxReplyBytes: 2 * 1024 * 1024 };
}

function update(c: Canister, method: string, time = T0): Outcome {
  return c.execute(message('update', method, time), `canister_update ${method}`, true);
}

function query(c: Canister, method: string): Outcome {
  return c.execute(message('query', method), `canister_query ${method}`, false);
}

function reply(o: Outcome): Uint8Array {
  assert.ok(o.ok, o.ok ? '' : `${o.code} ${o.message}`);
  return o.effects.reply!;
}

const u64s = (b: Uint8Array): bigint[] => Array.from({ length: b.length / 8 }, (_, i) => new DataView(b.buffer, b.byteOffset).getBigUint64(i * 8, true));

after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('instruction metering', () => {
  it('counts a loop per turn', () => {
    const c = canister();
    for (const [n, method] of [[1, 'loop1'], [10, 'loop10'], [1000, 'loop1000']] as const) {
      assert.equal(update(c, method).instructions, BigInt(12 + 1 + 6 * n + 500), method);
    }
  });

  it('charges 50 instructions per byte of reply data', () => {
    const c = canister();
    assert.equal(update(c, 'reply0').instructions, 13n + 500n + 500n);
    assert.equal(update(c, 'reply1').instructions, 13n + 550n + 500n);
    assert.equal(update(c, 'reply1M').instructions, 13n + 500n + 50n * 1_048_576n + 500n);
  });

  it('charges a stable write per byte, and each 4 KiB page once per message', () => {
    const c = canister();
    const once = 37n + 100n + (20n + 8192n + 2000n) + (20n + 8192n) + (20n + 2n + 2000n) + 500n;
    assert.equal(update(c, 'stable').instructions, once);
    assert.equal(update(c, 'stable').instructions, once, 'a new message dirties the pages afresh');
    assert.equal(update(c, 'read').instructions, 14n + 20n + 4096n + 500n);
  });

  it('reads the performance counter after charging its own 200, block included', () => {
    const c = canister();
    const o = update(c, 'pc');
    assert.deepEqual(u64s(reply(o)), [29n + 200n, 29n + 400n]);
    assert.equal(o.instructions, 29n + 400n + 500n + 16n * 50n + 500n);
    // Type 1 adds what earlier messages of the call context ran.
    const first = c.execute(message('update', 'pc1'), 'canister_update pc1', true, 1_000n);
    assert.deepEqual(u64s(reply(first)), [1_000n + 1n + 8n + 7n + 5n + 200n]);
  });

  it('ends an endless update and an endless query at their limits, with the replica\'s error', () => {
    const c = canister({ limits: { ...REPLICA_LIMITS, update: 1_000_000n, query: 500_000n } });
    const u = update(c, 'spin');
    assert.equal(u.ok, false);
    assert.equal(!u.ok && u.code, 'IC0522');
    assert.match(!u.ok ? u.message : '', /^Canister exceeded the limit of 1000000 instructions for single message execution\.\.\n/);
    assert.equal(u.instructions, 1_000_000n);
    const q = query(c, 'spin_query');
    assert.equal(!q.ok && q.code, 'IC0522');
    assert.match(!q.ok ? q.message : '', /limit of 500000 instructions/);
  });

  it('leaves no trace of a message that ran out of instructions', () => {
    const c = canister({ limits: { ...REPLICA_LIMITS, update: 1_000_000n } });
    const certified = c.certifiedData;
    const stable = c.stableBytes;
    const o = update(c, 'write_then_spin');
    assert.equal(!o.ok && o.code, 'IC0522');
    assert.equal(c.stableBytes, stable, 'stable memory did not grow');
    assert.deepEqual(c.certifiedData, certified);
    update(c, 'stable');
    assert.deepEqual([...reply(query(c, 'probe'))], [0, 0], 'heap byte and stable byte untouched');
  });
});

describe('cycles', () => {
  it('charges an update 5 M plus one cycle per instruction, and queries nothing', () => {
    const c = canister();
    const before = c.balance();
    const o = update(c, 'loop10');
    assert.equal(before - c.balance(), 5_000_000n + o.instructions);
    assert.ok(query(c, 'noop').ok);
    assert.equal(before - c.balance(), 5_000_000n + o.instructions);
  });

  it('charges storage by the second for the memory the canister holds', () => {
    const c = canister();
    const before = c.balance();
    const memory = BigInt(c.memoryUsage().total);
    c.chargeStorage(T0 + 100n * SECOND);
    // 127,000 cycles per GiB per second.
    assert.equal(before - c.balance(), (memory * 127_000n * 100n) / 2n ** 30n);
    assert.equal(c.idleBurnPerDay(), (memory * 127_000n * 86_400n) / 2n ** 30n);
  });

  it('refuses updates it could not pay for at the limit, and freezes queries at the threshold', () => {
    const rich = canister({ limits: { ...REPLICA_LIMITS, update: 1_000_000n } });
    const threshold = rich.freezingThresholdCycles();
    assert.ok(threshold > 0n);
    // Enough for the threshold, not for the threshold plus an update at its limit (5 M + 1 M).
    const poor = canister({ limits: { ...REPLICA_LIMITS, update: 1_000_000n } });
    poor.addCycles(threshold + 5_000_000n + 900_000n - poor.balance());
    const balance = poor.balance();
    const o = update(poor, 'loop1');
    assert.equal(!o.ok && o.code, 'IC0207');
    assert.match(!o.ok ? o.message : '', /is out of cycles: please top up the canister with at least \d+ additional cycles/);
    assert.equal(poor.balance(), balance, 'a refused message costs nothing');
    assert.ok(query(poor, 'noop').ok, 'not frozen: queries still run');

    const frozen = canister();
    frozen.addCycles(threshold - 1n - frozen.balance());
    assert.throws(() => query(frozen, 'noop'), (e: unknown) => e instanceof RejectError && e.errorCode === 'IC0207');
  });

  it('charges an install for compiling the module and running init', () => {
    const root = mkdtempSync(join(tmpdir(), 'icboot-canister-'));
    dirs.push(root);
    const c = Canister.create(root, Principal.fromText('bkyz2-fmaaa-aaaaa-qaaaq-cai'), [owner], 10n ** 14n, () => {}, executionOptions(), T0);
    c.install('install', PROBES, new Uint8Array(), owner.toUint8Array(), T0);
    const paid = 10n ** 14n - c.balance();
    // 5 M plus 6,000 instructions per Wasm instruction compiled; PROBES has no init.
    assert.ok(paid > 5_000_000n && (paid - 5_000_000n) % 6_000n === 0n, `paid ${paid}`);
  });
});

describe('paying for installs', () => {
  const TRAPS_IN_INIT = wat('(module (memory (export "memory") 1) (func (export "canister_init") unreachable))');

  it('charges an install that traps for what it ran, and changes nothing else', () => {
    const c = canister();
    const before = c.balance();
    assert.throws(() => c.install('reinstall', TRAPS_IN_INIT, new Uint8Array(), owner.toUint8Array(), T0),
      (e: unknown) => e instanceof RejectError && e.errorCode === 'IC0502');
    assert.ok(before - c.balance() > 5_000_000n, 'the failed install was paid for');
    assert.ok(update(c, 'loop1').ok, 'the old module still runs');
  });

  it('refuses an install the balance could not pay for at the install limit', () => {
    const c = canister();
    c.addCycles(c.freezingThresholdCycles() + 1_000_000n - c.balance());
    assert.throws(() => c.install('upgrade', PROBES, new Uint8Array(), owner.toUint8Array(), T0),
      (e: unknown) => e instanceof RejectError && e.errorCode === 'IC0207');
  });
});

describe('installing modules metering cannot run', () => {
  it('refuses garbage and unsupported instructions with IC0505 and keeps the old code', () => {
    const c = canister();
    const simd = wat('(module (memory (export "memory") 1) (func (export "canister_update v") v128.const i64x2 0 0 drop))');
    for (const bad of [new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 200]), new Uint8Array(64), simd]) {
      assert.throws(() => c.install('upgrade', bad, new Uint8Array(), owner.toUint8Array(), T0),
        (e: unknown) => e instanceof RejectError && e.errorCode === 'IC0505' && !e.message.includes('\n'));
    }
    assert.ok(update(c, 'loop1').ok, 'the installed module still runs');
  });
});

/** Prints and replicated queries: what a message leaves in the canister log, and what a query run by an update keeps. */
const LOGGER = wat(`(module
  (import "ic0" "msg_reply" (func $reply))
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "debug_print" (func $print (param i32 i32)))
  (import "ic0" "in_replicated_execution" (func $replicated (result i32)))
  (import "ic0" "global_timer_set" (func $timer (param i64) (result i64)))
  (import "ic0" "certified_data_set" (func $certify (param i32 i32)))
  (import "ic0" "stable64_grow" (func $grow (param i64) (result i64)))
  (import "ic0" "stable64_size" (func $ssize (result i64)))
  (memory (export "memory") 17)

  ;; the whole first MiB of the heap, 2000 times
  (func (export "canister_update print_big") (local $n i32)
    i32.const 2000 local.set $n
    (loop $l
      i32.const 0 i32.const 1048576 call $print
      local.get $n i32.const 1 i32.sub local.tee $n
      br_if $l)
    call $reply)

  ;; replies in_replicated_execution; leaves a heap byte, a stable page and a print behind, if kept
  (func (export "canister_query rq")
    i32.const 0 call $replicated i32.store8
    i32.const 100 i32.const 42 i32.store8
    i64.const 1 call $grow drop
    i32.const 200 i32.const 2 call $print
    i32.const 0 i32.const 1 call $append
    call $reply)
  (func (export "canister_query timer") i64.const 1 call $timer drop call $reply)
  (func (export "canister_query certify") i32.const 0 i32.const 1 call $certify call $reply)
  ;; the heap byte at 100 and the stable size in pages
  (func (export "canister_query probe")
    i32.const 0 i32.const 100 i32.load8_u i32.store8
    i32.const 1 call $ssize i64.store8
    i32.const 0 i32.const 2 call $append
    call $reply)
  (data (i32.const 200) "rq"))`);

function logger(lines: string[] = []): Canister {
  const root = mkdtempSync(join(tmpdir(), 'icboot-canister-'));
  dirs.push(root);
  const c = Canister.create(root, Principal.fromText('bkyz2-fmaaa-aaaaa-qaaaq-cai'), [owner], 10n ** 14n, (l) => lines.push(l), executionOptions(), T0);
  c.install('install', LOGGER, new Uint8Array(), owner.toUint8Array(), T0);
  return c;
}

describe('debug prints', () => {
  it('keeps no more of a message that prints its heap 2000 times than the log holds, and numbers every print', () => {
    const lines: string[] = [];
    const c = logger(lines);
    c.updateSettings({ settings: { ...c.settings, logMemoryLimit: 16_384n } }, false);
    assert.ok(update(c, 'print_big').ok);
    // Four 4 KiB records fit; the 1996 prints before them were dropped but kept their indexes.
    assert.deepEqual(c.logRecords().map((r) => [r.idx, r.content.length]), [1996n, 1997n, 1998n, 1999n].map((i) => [i, MAX_RECORD_CONTENT]));
    assert.equal(c.logBytes, 16_384);
    // The devnet's own line for each print is cut too, and says so.
    const prints = lines.filter((l) => l.includes('[cut: 1048576 bytes printed]'));
    assert.equal(prints.length, 2000);
    assert.ok(prints.every((l) => l.length < MAX_RECORD_CONTENT + 100));
  });
});

describe('an update call to a query method', () => {
  const probe = (c: Canister): number[] => [...reply(query(c, 'probe'))];

  it('runs it as a replicated query: replied, charged as an update, logged, and its changes discarded', () => {
    const c = logger();
    const entry = c.entryFor('update', 'rq');
    assert.deepEqual(entry, { name: 'canister_query rq', kind: 'replicated_query' });
    const before = c.balance();
    const o = c.execute(message(entry.kind, 'rq'), entry.name, true);
    assert.deepEqual([...reply(o)], [1], 'in_replicated_execution is 1');
    assert.equal(before - c.balance(), 5_000_000n + o.instructions);
    assert.deepEqual(c.logRecords().map((r) => new TextDecoder().decode(r.content)), ['rq']);
    assert.deepEqual(probe(c), [0, 0], 'neither the heap byte nor the stable page was kept');
  });

  it('runs the same method called as a query non-replicated: free, unlogged', () => {
    const c = logger();
    const entry = c.entryFor('query', 'rq');
    assert.deepEqual(entry, { name: 'canister_query rq', kind: 'query' });
    const before = c.balance();
    assert.deepEqual([...reply(c.execute(message(entry.kind, 'rq'), entry.name, false))], [0]);
    assert.equal(c.balance(), before);
    assert.deepEqual(c.logRecords(), []);
  });

  it('refuses what a query may not do, a timer or certified data, with IC0504', () => {
    const c = logger();
    for (const method of ['timer', 'certify']) {
      const o = c.execute(message('replicated_query', method), `canister_query ${method}`, true);
      assert.equal(!o.ok && o.code, 'IC0504', method);
    }
    assert.equal(c.timer(), 0n);
  });

  it('runs update methods as updates, and names the method it cannot find', () => {
    const c = logger();
    assert.deepEqual(c.entryFor('update', 'print_big'), { name: 'canister_update print_big', kind: 'update' });
    assert.throws(() => c.entryFor('update', 'nope'), (e: unknown) => e instanceof RejectError && e.errorCode === 'IC0536');
  });
});

describe('restoring', () => {
  it('keeps a canister whose stored module breaks today\'s metadata rules, with the sections it can read', () => {
    const c = logger();
    const root = join(dirs.at(-1)!, c.id.toText());
    let wasm = LOGGER;
    for (let i = 0; i <= MAX_METADATA_SECTIONS; i++) wasm = withMetadata(wasm, `s${i}`, new TextEncoder().encode('x'));
    assert.throws(() => c.install('upgrade', wasm, new Uint8Array(), owner.toUint8Array(), T0),
      (e: unknown) => e instanceof RejectError && e.errorCode === 'IC0505', 'refused at install');
    c.close();
    // As an older devnet would have stored it.
    const stored = readdirSync(root).find((f) => f.startsWith('module-'))!;
    writeFileSync(join(root, stored), wasm);
    const back = Canister.restore(dirs.at(-1)!, c.id, T0, () => {}, executionOptions());
    assert.ok(back.hasCode);
    assert.equal(back.metadata('s0')?.visibility, 'public');
    assert.equal(back.metadata(`s${MAX_METADATA_SECTIONS}`), undefined);
    back.close();
  });
});

// Exact instruction counts of hand-built modules, worked out by hand from the
// replica's cost table and basic-block rules; where the replica's own
// instrumentation tests have the same structure, their counts must come out.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WasmError } from './binary.ts';
import { COUNTER_EXPORT, meter, START_EXPORT } from './instrument.ts';
import { instantiateMetered, meteredText, wat } from './testdata/wat.ts';

const BIG = 1_000_000n;

describe('metering: counts', () => {
  it('a counted loop costs 7N + 3', () => {
    // Entry block: 1 + local.get 1 + local.set 1 + loop 0 = 3.
    // Loop block, per iteration: local.get, i32.const, i32.sub, local.set, local.get 1 each + br_if 2 = 7.
    // After br_if: end, end cost 0 (no point).
    const m = instantiateMetered(`(module
      (func (export "count") (param $n i32) (local $i i32)
        (local.set $i (local.get $n))
        (loop $l
          (local.set $i (i32.sub (local.get $i) (i32.const 1)))
          (br_if $l (local.get $i)))))`);
    for (const n of [1, 10, 1000]) assert.equal(m.run('count', BIG, n).used, BigInt(7 * n + 3), `N = ${n}`);
  });

  it('memory.copy and memory.fill cost 100 + 1 per byte, charged before they run', () => {
    // Entry block: 1 + i32.const 1 + i32.const 1 + local.get 1 + memory.copy/fill 100 = 104, then the length.
    const m = instantiateMetered(`(module (memory (export "mem") 1)
      (func (export "copy") (param $len i32) (memory.copy (i32.const 0) (i32.const 100) (local.get $len)))
      (func (export "fill") (param $len i32) (memory.fill (i32.const 0) (i32.const 7) (local.get $len))))`);
    for (const name of ['copy', 'fill']) {
      assert.equal(m.run(name, BIG, 0).used, 104n, `${name} 0`);
      assert.equal(m.run(name, BIG, 4096).used, 4200n, `${name} 4096`);
    }
    const mem = new Uint8Array((m.exports.mem as WebAssembly.Memory).buffer);
    assert.equal(mem[4095], 7, 'the fill still happened');
    // 104 is charged at entry (leaving 96), then 4096 more by the decrement: out before the fill runs.
    mem.fill(0);
    const out = m.run('fill', 200n, 4096);
    assert.ok(out.trap instanceof WebAssembly.RuntimeError);
    assert.ok(out.counter < 0n);
    assert.equal(mem[0], 0, 'nothing was filled');
  });

  it('integer division costs exactly 9 more than an addition', () => {
    // 1 + local.get 1 + local.get 1 + (i32.add 1 | i32.div_u 10) = 4 | 13.
    const m = instantiateMetered(`(module
      (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
      (func (export "div") (param i32 i32) (result i32) (i32.div_u (local.get 0) (local.get 1))))`);
    const add = m.run('add', BIG, 84, 2);
    const div = m.run('div', BIG, 84, 2);
    assert.deepEqual([add.used, add.result, div.used, div.result], [4n, 86, 13n, 42]);
  });

  it('call_indirect costs 10 and call 5, plus the callee\'s entry block', () => {
    // Callee: 1 + i32.const 1 = 2. direct: 1 + call 5 + 2 = 8. indirect: 1 + i32.const 1 + call_indirect 10 + 2 = 14.
    const m = instantiateMetered(`(module
      (type $t (func (result i32)))
      (table 1 funcref) (elem (i32.const 0) $callee)
      (func $callee (result i32) (i32.const 42))
      (func (export "direct") (result i32) (call $callee))
      (func (export "indirect") (result i32) (call_indirect (type $t) (i32.const 0))))`);
    assert.deepEqual([m.run('direct', BIG).used, m.run('indirect', BIG).used], [8n, 14n]);
  });

  // The replica's tests (rs/embedders/tests/instrumentation.rs): a(n) = n × (i64.const 1 + i64.add 1)
  // + global.get 2 + global.set 2 = 2n + 4; every function costs 1 for its entry.
  const addOnes = (n: number): string => '(i64.add (i64.const 1))\n'.repeat(n);
  const group = (n: number): string => `global.get $g\n${addOnes(n)}global.set $g\n`;
  const replicaModule = (body: string): string =>
    `(module (global $g (export "g") (mut i64) (i64.const 0)) (func (export "test") ${body}))`;
  const g = (m: ReturnType<typeof instantiateMetered>): bigint => (m.exports.g as WebAssembly.Global).value as bigint;

  it('metering_plain: 25, and out of instructions at a limit of 24', () => {
    const m = instantiateMetered(replicaModule(group(10))); // 1 + a(10)
    assert.equal(m.run('test', 25n).used, 25n);
    assert.equal(g(m), 10n);
    const out = m.run('test', 24n);
    assert.ok(out.trap instanceof WebAssembly.RuntimeError);
    assert.ok(out.counter < 0n, 'the entry check stops it');
    assert.equal(g(m), 10n, 'before it changed anything');
  });

  it('metering_plain with an early return or trap: 26', () => {
    const ret = instantiateMetered(replicaModule(`${group(10)} return ${group(10)}`)); // 1 + a(10) + return 1
    assert.equal(ret.run('test', 30n).used, 26n);
    const trap = instantiateMetered(replicaModule(`${group(10)} unreachable ${group(10)}`)); // 1 + a(10) + unreachable 1
    const out = trap.run('test', 30n);
    assert.ok(out.trap instanceof WebAssembly.RuntimeError);
    assert.deepEqual([out.used, out.counter >= 0n], [26n, true], 'a genuine trap, not running out');
  });

  it('metering_block: 255 with br, 230 with return', () => {
    // 1 + a(10) + a(100) + br 2 (the block after br is skipped) + a(10) = 1 + 24 + 204 + 2 + 24 = 255.
    const br = instantiateMetered(replicaModule(
      `${group(10)} (block $b1 ${group(100)} (block $b2 br $b1) ${group(50)}) ${group(10)}`));
    assert.equal(br.run('test', 1000n).used, 255n);
    assert.equal(g(br), 120n);
    // 1 + a(10) + a(100) + return 1 = 230.
    const ret = instantiateMetered(replicaModule(
      `${group(10)} (block $b1 ${group(100)} (block $b2 return) ${group(50)}) ${group(10)}`));
    assert.equal(ret.run('test', 1000n).used, 230n);
    assert.equal(g(ret), 110n);
  });

  it('metering_if: 126 through else, 43 through then with return', () => {
    // 1 + a(5) + i32.const 1 + if 2, then the else branch a(20), then a(30) = 1 + 14 + 3 + 44 + 64 = 126.
    const viaElse = instantiateMetered(replicaModule(
      `${group(5)} (i32.const 0) (if (then ${group(10)}) (else ${group(20)})) ${group(30)}`));
    assert.equal(viaElse.run('test', 1000n).used, 126n);
    assert.equal(g(viaElse), 55n);
    // 1 + a(5) + 3 + a(10) + return 1 = 43.
    const viaThen = instantiateMetered(replicaModule(
      `${group(5)} (i32.const 1) (if (then ${group(10)} return) (else ${group(20)})) ${group(30)}`));
    assert.equal(viaThen.run('test', 1000n).used, 43n);
    assert.equal(g(viaThen), 15n);
  });

  it('metering_loop: 288', () => {
    // Per iteration: a(10) + local.get, i32.const, i32.add, local.set, local.get, i32.const, i32.lt_s 1 each
    // + br_if 2 = 24 + 9 = 33. Total 1 + a(5) + 5 × 33 + a(20) + a(30) = 1 + 14 + 165 + 44 + 64 = 288.
    const m = instantiateMetered(`(module (global $g (export "g") (mut i64) (i64.const 0))
      (func (export "test") (local $i i32)
        ${group(5)}
        (loop $loop_a
          ${group(10)}
          local.get $i (i32.add (i32.const 1)) local.set $i
          local.get $i i32.const 5 i32.lt_s br_if $loop_a
          ${group(20)})
        ${group(30)}))`);
    assert.equal(m.run('test', 1000n).used, 288n);
    assert.equal(g(m), 105n);
  });

  it('fizzbuzz: the per-block costs of the replica\'s snapshot', () => {
    const bytes = wat(`(module
      (import "env" "print" (func $print (param i32 i32)))
      (memory 1)
      (func (export "fizzbuzz") (param $max i32) (local $c i32) (local $tmp i32) (local $adr i32)
        i32.const 1  local.set $c
        local.get $max  i32.const 1  i32.add  local.set $max
        loop $loop
          local.get $c  i32.const 3  i32.rem_u  i32.eqz
          if
            local.get $c  i32.const 5  i32.rem_u  i32.eqz
            if  i32.const 8  i32.const 8  call $print
            else  i32.const 0  i32.const 4  call $print
            end
          else
            local.get $c  i32.const 5  i32.rem_u  i32.eqz
            if  i32.const 4  i32.const 4  call $print
            else
              i32.const 16  local.set $adr
              local.get $c  local.set $tmp
              local.get $c  i32.const 9  i32.gt_u
              if
                local.get $adr  local.get $tmp  i32.const 10  i32.div_u  i32.const 48  i32.add  i32.store
                local.get $adr  i32.const 1  i32.add  local.set $adr
              end
              local.get $adr  local.get $tmp  i32.const 10  i32.rem_u  i32.const 48  i32.add  i32.store
              i32.const 16  local.get $adr  i32.const 15  i32.sub  call $print
            end
          end
          local.get $c  i32.const 1  i32.add  local.set $c
          local.get $c  local.get $max  i32.lt_u  br_if $loop
        end))`);
    const costs = [...meteredText(bytes).matchAll(/global\.get \d+\s+i64\.const (\d+)\s+i64\.sub/g)].map((x) => Number(x[1]));
    assert.deepEqual(costs, [7, 15, 15, 7, 7, 15, 7, 9, 20, 25, 9]);
  });

  it('an endless loop runs out at a small budget', () => {
    const m = instantiateMetered('(module (func (export "spin") (loop (br 0))))');
    const out = m.run('spin', 10_000n);
    assert.ok(out.trap instanceof WebAssembly.RuntimeError);
    assert.ok(out.counter < 0n);
  });
});

describe('metering: module shape', () => {
  it('moves the start function to an export the host runs, and adds no import', () => {
    const raw = wat(`(module (global $g (export "g") (mut i32) (i32.const 0))
      (func $init (global.set $g (i32.const 5))) (start $init))`);
    const module = new WebAssembly.Module(meter(raw).bytes);
    assert.deepEqual(WebAssembly.Module.imports(module), []);
    assert.deepEqual(WebAssembly.Module.exports(module).map((e) => e.name).sort(), [COUNTER_EXPORT, START_EXPORT, 'g'].sort());
    const m = instantiateMetered(raw);
    assert.equal((m.exports.g as WebAssembly.Global).value, 0, 'instantiation did not run it');
    assert.equal(m.run(START_EXPORT, BIG).used, 4n); // 1 + i32.const 1 + global.set 2
    assert.equal((m.exports.g as WebAssembly.Global).value, 5);
  });

  it('meters a module with no functions, globals or exports', () => {
    const module = new WebAssembly.Module(meter(wat('(module)')).bytes);
    assert.deepEqual(WebAssembly.Module.exports(module).map((e) => e.name), [COUNTER_EXPORT]);
  });

  it('is deterministic', () => {
    const raw = wat('(module (memory 1) (func (export "f") (param i32) (memory.fill (i32.const 0) (i32.const 1) (local.get 0))))');
    assert.deepEqual(meter(raw).bytes, meter(raw).bytes);
  });
});

describe('metering: refusals', () => {
  const refused = (source: string | Uint8Array): void => {
    assert.throws(() => meter(typeof source === 'string' ? wat(source) : source), WasmError);
  };

  it('refuses SIMD, atomics, tail calls, exports of reserved names, and unknown opcodes', () => {
    refused('(module (func (drop (v128.const i32x4 0 0 0 0))))');
    refused('(module (func (atomic.fence)))');
    refused('(module (func $f (return_call $f)))');
    refused('(module (memory 1 1 shared))');
    refused(`(module (global (export "${COUNTER_EXPORT}") i32 (i32.const 0)))`);
    refused(`(module (func (export "${START_EXPORT}")))`);
    // (func nop) with the nop (0x01) replaced by the unassigned opcode 0xc5.
    const raw = wat('(module (func nop))');
    const body = raw.findIndex((_, i) => raw[i] === 0x00 && raw[i + 1] === 0x01 && raw[i + 2] === 0x0b);
    assert.ok(body > 0);
    raw[body + 1] = 0xc5;
    refused(raw);
  });

  it('refuses garbage and every truncation of a module with WasmError', () => {
    refused(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    refused(new Uint8Array([1, 2, 3]));
    refused(new Uint8Array([0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0])); // a component, not a core module
    const raw = wat('(module (memory 1) (func (export "f") (param i32) (result i32) (i32.div_u (local.get 0) (i32.const 3))))');
    for (let n = 0; n < raw.length; n++) {
      const cut = raw.subarray(0, n);
      try {
        WebAssembly.validate(meter(cut).bytes);
      } catch (e) {
        assert.ok(e instanceof WasmError, `cut at ${n}: ${e}`);
      }
    }
  });
});

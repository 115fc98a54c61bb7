// Metering through the devnet process and the real agent: the Azle-built test
// canister (QuickJS) runs out of instructions at lowered limits, leaves nothing
// behind, reads real counters, and pays cycles that canister_status reports.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ReplicaRejectCode, type ActorSubclass, type HttpAgent } from '@dfinity/agent';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import type { Principal } from '@dfinity/principal';
import type { RunningDevnet } from '../lab/devnet.ts';
import { until } from '../lab/poll.ts';
import { rejected } from './helpers/rejects.ts';
import { createCanister, devnetWithTestCanister, management, type DevnetWithTestCanister, type TestCanister } from './helpers/testcanister.ts';

/** Low enough to reach in a second or two, high enough for the test canister's ordinary methods. */
const LIMITS = { query: 200_000_000n, update: 1_000_000_000n };

describe('metering on the devnet', () => {
  let setup: DevnetWithTestCanister;
  let devnet: RunningDevnet;
  let agent: HttpAgent;
  let id: Principal;
  let canister: ActorSubclass<TestCanister>;

  before(async () => {
    setup = await devnetWithTestCanister(Ed25519KeyIdentity.generate(), ['--log-instructions', '--instruction-limits', `query=${LIMITS.query},update=${LIMITS.update}`]);
    ({ devnet, agent, id, canister } = setup);
  });

  after(() => setup?.stop());

  it('ends an endless query and an endless update at the limit with IC0522', async () => {
    const q = await rejected(canister.spinQuery(), ReplicaRejectCode.CanisterError, 'IC0522');
    assert.ok(q.includes(`limit of ${LIMITS.query} instructions`), q);
    const u = await rejected(canister.putThenSpin('spun'), ReplicaRejectCode.CanisterError, 'IC0522');
    assert.ok(u.includes(`limit of ${LIMITS.update} instructions`), u);
  });

  it('keeps nothing of an update that ran out of instructions', async () => {
    const count = await canister.count();
    await rejected(canister.putThenSpin('lost'), ReplicaRejectCode.CanisterError, 'IC0522');
    assert.deepEqual(await canister.get('lost'), []);
    assert.equal(await canister.count(), count);
    assert.equal(await canister.increment(), count + 1n, 'the canister carries on');
  });

  it('refuses modules it cannot meter or parse at install, with one line, and keeps serving', async () => {
    const other = await createCanister(agent);
    const install = (wasm: Uint8Array): Promise<void> => management(agent, other).install_code({
      mode: { install: null }, canister_id: other, wasm_module: wasm, arg: new Uint8Array(), sender_canister_version: [],
    });
    // A function `v128.const 0; drop`: SIMD, which the devnet's metering does not know.
    const simd = Uint8Array.from([
      0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0,
      10, 0x17, 1, 0x15, 0, 0xfd, 0x0c, ...new Array(16).fill(0), 0x1a, 0x0b,
    ]);
    for (const wasm of [simd, Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0x0a, 0xff])]) {
      const message = await rejected(install(wasm), ReplicaRejectCode.CanisterError, 'IC0505');
      assert.ok(!message.includes('\n'), message);
    }
    assert.equal(await canister.increment(), (await canister.count()), 'the other canister is served');
  });

    it('counts instructions for the message and for its call context', async () => {
    const { message, context } = await canister.instructions();
    assert.ok(message > 0n && message < LIMITS.update, `message ${message}`);
    assert.ok(context > message, `the context (${context}) includes the message before the self-call`);
  });

  it('logs each message with its instructions and cycles', async () => {
    await canister.increment();
    await until(() => devnet.logs.some((l) => /update increment: [\d,]+ instructions, [\d,]+ cycles$/.test(l)), 'no instruction log line for increment');
    await canister.count();
    await until(() => devnet.logs.some((l) => /query count: [\d,]+ instructions, 0 cycles$/.test(l)), 'no instruction log line for count');
  });

  it('reports the balance, memory and idle burn in canister_status, and charges updates', async () => {
    const mgmt = management(agent, id);
    const before = await mgmt.canister_status({ canister_id: id });
    assert.ok(before.memory_size > before.memory_metrics.wasm_memory_size);
    assert.ok(before.idle_cycles_burned_per_day > 0n);
    await canister.increment();
    const after = await mgmt.canister_status({ canister_id: id });
    // At least the base fee of an update and its ingress message.
    assert.ok(before.cycles - after.cycles > 5_000_000n + 1_200_000n, `${before.cycles - after.cycles}`);
  });
});

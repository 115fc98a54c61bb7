import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canisterFunds, type CanisterStatusResult } from './management.ts';

const status = (cycles: bigint, burn: bigint, thresholdSeconds = 2_592_000n): CanisterStatusResult => ({
  module_hash: [], memory_size: 1n << 30n, cycles, idle_cycles_burned_per_day: burn, settings: { freezing_threshold: thresholdSeconds },
});

describe('canister funds', () => {
  it('counts the days until the balance reaches the freezing threshold', () => {
    // 1 GiB burns 10,972,800,000 a day; 30 days of it is the threshold, 329,184,000,000.
    const f = canisterFunds(status(1_000_000_000_000n, 10_972_800_000n));
    assert.equal(f.freezingThreshold, 329_184_000_000n);
    // (1 T − 329.184 B) / 10.9728 B = 61.13…
    assert.equal(f.idleDays, 61n);
    assert.equal(f.memoryBytes, 1n << 30n);
  });

  it('says 0 days for a frozen canister and none for one that burns nothing', () => {
    assert.equal(canisterFunds(status(100n, 10_972_800_000n)).idleDays, 0n);
    assert.equal(canisterFunds(status(100n, 0n)).idleDays, null);
  });
});

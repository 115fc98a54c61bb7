// The fee formulas against numbers worked out by hand from the fee table.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_FREEZING_THRESHOLD_SECONDS, YEAR_SECONDS, executionCost, freezingThresholdCycles, freezingThresholdFromBurn,
  idleBurnPerDay, ingressCost, scale, storageCost,
} from './cycles.ts';

const GiB = 1n << 30n;
const MiB = 1n << 20n;

describe('cycles', () => {
  it('charges an update 5 M plus one cycle per instruction', () => {
    assert.equal(executionCost(0n), 5_000_000n);
    assert.equal(executionCost(1_000_000_000n), 1_005_000_000n);
  });

  it('charges ingress 1.2 M plus 2,000 per envelope byte', () => {
    // 1 MiB + 400 B = 1,048,976 B; 2,000 × 1,048,976 = 2,097,952,000.
    assert.equal(ingressCost(MiB + 400n), 2_099_152_000n);
  });

  it('scales to 34 nodes by multiplying before dividing by 13', () => {
    assert.equal(scale(10n, 34), 26n, '340 / 13, not 10 × (34 / 13) = 20');
    // 5,000,000 × 34 = 170,000,000; / 13 = 13,076,923.07…
    assert.equal(executionCost(0n, 34), 13_076_923n);
    // The whole fee is scaled once: 2,099,152,000 × 34 = 71,371,168,000; / 13 = 5,490,089,846.15…
    // (scaling 1.2 M and 2,000 separately would give 3,138,461 + 5,230 × 1,048,976 = 5,489,282,941).
    assert.equal(ingressCost(MiB + 400n, 34), 5_490_089_846n);
  });

  it('burns 127,000 cycles per GiB per second of storage', () => {
    assert.equal(idleBurnPerDay(GiB), 127_000n * 86_400n);
    assert.equal(idleBurnPerDay(GiB), 10_972_800_000n);
    assert.equal(storageCost(GiB, YEAR_SECONDS), 4_005_072_000_000n);
    // Half a GiB burns half as much; the division by 2^30 comes last.
    assert.equal(idleBurnPerDay(GiB / 2n), 5_486_400_000n);
  });

  it('freezes a canister at what it would burn idle over its threshold', () => {
    assert.equal(DEFAULT_FREEZING_THRESHOLD_SECONDS, 30n * 86_400n);
    assert.equal(freezingThresholdCycles(GiB, DEFAULT_FREEZING_THRESHOLD_SECONDS), 30n * 10_972_800_000n);
    assert.equal(freezingThresholdFromBurn(10_972_800_000n, DEFAULT_FREEZING_THRESHOLD_SECONDS), 329_184_000_000n);
    // Half a day of threshold is half a day's burn.
    assert.equal(freezingThresholdFromBurn(1_000n, 43_200n), 500n);
  });
});

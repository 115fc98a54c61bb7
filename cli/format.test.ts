import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { byteFlag, cycles } from './format.ts';

describe('format', () => {
  it('writes cycles with a unit and two decimals', () => {
    assert.equal(cycles(0n), '0 cycles');
    assert.equal(cycles(999_999n), '999999 cycles');
    assert.equal(cycles(5_000_000n), '5.00 M cycles');
    assert.equal(cycles(10_972_800_000n), '10.97 B cycles');
    assert.equal(cycles(1_239_999_999_999n), '1.23 T cycles');
    assert.equal(cycles(100_000_000_000_000n), '100.00 T cycles');
  });

  it('writes a byte count as a flag value, in the largest unit that divides it', () => {
    assert.equal(byteFlag(268_435_456), '256M');
    assert.equal(byteFlag(4 * 1024 ** 3), '4G');
    assert.equal(byteFlag(1024 * 1024), '1M');
    assert.equal(byteFlag(16 * 1024), '16K');
    assert.equal(byteFlag(1_900_000), '1900000');
    assert.equal(byteFlag(0), '0');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cycles } from './format.ts';

describe('format', () => {
  it('writes cycles with a unit and two decimals', () => {
    assert.equal(cycles(0n), '0 cycles');
    assert.equal(cycles(999_999n), '999999 cycles');
    assert.equal(cycles(5_000_000n), '5.00 M cycles');
    assert.equal(cycles(10_972_800_000n), '10.97 B cycles');
    assert.equal(cycles(1_239_999_999_999n), '1.23 T cycles');
    assert.equal(cycles(100_000_000_000_000n), '100.00 T cycles');
  });
});

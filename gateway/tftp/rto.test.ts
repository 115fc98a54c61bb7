import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MIN_RTO_MS, Rto } from './rto.ts';

describe('Rto', () => {
  it('starts at the configured timeout', () => {
    assert.equal(new Rto(1000).ms, 1000);
  });

  it('falls to the floor on a fast, steady path', () => {
    const r = new Rto(1000);
    for (let i = 0; i < 50; i++) r.sample(0.2);
    assert.equal(r.ms, MIN_RTO_MS);
  });

  it('follows a slow path with its variation, never above the configured timeout', () => {
    const r = new Rto(1000);
    for (let i = 0; i < 50; i++) r.sample(i % 2 ? 150 : 250);
    assert.ok(r.ms > 250 && r.ms < 1000, `${r.ms}`);
    for (let i = 0; i < 50; i++) r.sample(5000);
    assert.equal(r.ms, 1000);
  });

  it('never goes below a configured timeout smaller than the floor', () => {
    const r = new Rto(20);
    for (let i = 0; i < 10; i++) r.sample(0.1);
    assert.equal(r.ms, 20);
  });
});

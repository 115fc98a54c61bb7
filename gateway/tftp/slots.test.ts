// Who gets a TFTP slot: caps per client, per /24 and in total, and which
// transfer gives way when a scope is full.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Slots, subnetOf, type SlotLimits } from './slots.ts';

class Held {
  ended = false;
  constructor(readonly address: string, private readonly rate: number | null) {}
  clientRate(): number | null {
    return this.rate;
  }
}

const limits: SlotLimits = { maxTransfers: 4, maxPerClient: 2, maxPerSubnet: 3, minRate: 1000 };

function fill(slots: Slots<Held>, held: Held[]): Held[] {
  for (const h of held) slots.add(h);
  return held;
}

describe('TFTP slots', () => {
  it('names the /24 of an IPv4 address', () => {
    assert.equal(subnetOf('192.168.122.57'), '192.168.122');
    assert.equal(subnetOf('::1'), '::1');
  });

  it('admits within every cap and refuses past the per-client cap', () => {
    const slots = new Slots<Held>(limits);
    fill(slots, [new Held('10.0.0.1', 5000), new Held('10.0.0.1', 5000)]);
    assert.deepEqual(slots.admit('10.0.0.2', 0), { ok: true, evict: [] });
    assert.deepEqual(slots.admit('10.0.0.1', 0), { ok: false, reason: 'too many transfers from this client' });
  });

  it('counts a transfer that has ended but is not yet removed as a free slot, and never evicts it', () => {
    const slots = new Slots<Held>(limits);
    const [, done] = fill(slots, [new Held('10.0.0.1', 5000), new Held('10.0.0.1', 10)]);
    done.ended = true;
    assert.deepEqual(slots.admit('10.0.0.1', 0), { ok: true, evict: [] });
  });

  it('lets a client at its cap replace its own transfer that is too slow', () => {
    const slots = new Slots<Held>(limits);
    const [, slow] = fill(slots, [new Held('10.0.0.1', 5000), new Held('10.0.0.1', 10)]);
    assert.deepEqual(slots.admit('10.0.0.1', 0), { ok: true, evict: [slow] });
  });

  it('caps a /24, and another /24 is not affected', () => {
    const slots = new Slots<Held>(limits);
    fill(slots, [new Held('10.0.0.1', 5000), new Held('10.0.0.2', 5000), new Held('10.0.0.3', 5000)]);
    assert.deepEqual(slots.admit('10.0.0.4', 0), { ok: false, reason: 'too many transfers from this network (/24)' });
    assert.deepEqual(slots.admit('10.0.1.4', 0), { ok: true, evict: [] });
  });

  it('when full, evicts the slowest transfer below the minimum rate, not one too young to judge', () => {
    const slots = new Slots<Held>(limits);
    const held = fill(slots, [new Held('10.0.1.1', null), new Held('10.0.2.1', 900), new Held('10.0.3.1', 200), new Held('10.0.4.1', 5000)]);
    assert.deepEqual(slots.admit('10.0.5.1', 0), { ok: true, evict: [held[2]] });
  });

  it('when full of transfers that all make progress, refuses rather than thrash', () => {
    const slots = new Slots<Held>(limits);
    fill(slots, ['10.0.1.1', '10.0.2.1', '10.0.3.1', '10.0.4.1'].map((a) => new Held(a, 5000)));
    assert.deepEqual(slots.admit('10.0.5.1', 0), { ok: false, reason: 'server busy, try again' });
  });

  it('when full, takes a slot from the address holding at least two more than the newcomer', () => {
    const slots = new Slots<Held>(limits);
    const held = fill(slots, [new Held('10.0.1.1', 9000), new Held('10.0.1.1', 7000), new Held('10.0.2.1', 5000), new Held('10.0.3.1', 5000)]);
    assert.deepEqual(slots.admit('10.0.5.1', 0), { ok: true, evict: [held[1]] });
    // Holding one already, the newcomer would be level with the heaviest: refused.
    slots.add(new Held('10.0.5.1', 5000));
    slots.remove(held[2]);
    assert.equal(slots.admit('10.0.5.1', 0).ok, false);
  });

  it('forgets transfers that ended', () => {
    const slots = new Slots<Held>(limits);
    const [a] = fill(slots, [new Held('10.0.0.1', 5000), new Held('10.0.0.1', 5000)]);
    slots.remove(a);
    assert.equal(slots.size, 1);
    // Exactly one left for 10.0.0.1: room for one more, then its cap of 2.
    assert.equal(slots.admit('10.0.0.1', 0).ok, true);
    slots.add(new Held('10.0.0.1', 5000));
    assert.equal(slots.admit('10.0.0.1', 0).ok, false);
  });
});

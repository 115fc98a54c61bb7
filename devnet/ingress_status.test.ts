import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import type { CallResult } from './call_result.ts';
import { IngressStatus } from './ingress_status.ts';

const reply: CallResult = { status: 'replied', reply: Uint8Array.of(42) };

describe('ingress status', () => {
  it('runs a request id once: a replay waits for the first result', async () => {
    const s = new IngressStatus();
    const first = s.open('r1', 'alice');
    const replay = s.open('r1', 'alice');
    assert.deepEqual([first.fresh, replay.fresh], [true, false]);
    assert.equal(s.get('r1')?.sender, 'alice');
    assert.equal(s.get('r1')?.result, undefined, 'still processing');
    s.answer('r1', reply);
    assert.deepEqual(await first.done, reply);
    assert.deepEqual(await replay.done, reply);
    const late = s.open('r1', 'alice');
    assert.equal(late.fresh, false);
    assert.deepEqual(await late.done, reply);
    assert.equal(s.get('r1')?.result, reply);
  });

  it('forgets answered requests after six minutes, never pending ones', (t) => {
    mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    t.after(() => mock.timers.reset());
    const s = new IngressStatus();
    s.open('answered', 'bob');
    s.open('pending', 'bob');
    s.answer('answered', reply);
    mock.timers.tick(6 * 60_000);
    s.prune();
    assert.equal(s.get('answered')?.sender, 'bob', 'still readable at the limit');
    mock.timers.tick(1);
    s.prune();
    assert.equal(s.get('answered'), undefined);
    assert.equal(s.get('pending')?.sender, 'bob');
  });
});

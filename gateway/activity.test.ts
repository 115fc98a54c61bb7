// What the gateway keeps of what it observes stays bounded whatever clients
// send: paths cut, refused requests counted but not kept as boots, and a
// repeated error kept once with a count.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Activity, LIMITS, cut } from './activity.ts';
import { statusView } from './status_view.ts';

describe('Activity', () => {
  it('cuts a path a client chose, so the view stays under a fixed size however long the paths asked for', () => {
    assert.equal(cut('abc', 3), 'abc');
    assert.equal(cut('abcd', 3), 'ab…');
    const a = new Activity();
    const t = a.transfer('http', '10.0.0.1', 'x'.repeat(10_000));
    assert.equal(t.path.length, LIMITS.pathChars);
    t.end('failed', 'y'.repeat(10_000));
    for (let c = 0; c < 2 * LIMITS.clients; c++) {
      for (let f = 0; f < 2 * LIMITS.filesPerClient; f++) a.transfer('tftp', `10.1.${c}.1`, `${f}${'z'.repeat(10_000)}`).end('not_found', 'not found');
    }
    const view = statusView(a);
    assert.equal(view.boots.length, LIMITS.clients);
    assert.ok(view.boots.every((b) => b.files.length === LIMITS.filesPerClient && b.files.every((f) => f.path.length <= LIMITS.pathChars)));
    assert.ok(view.errors.every((e) => e.text.length <= LIMITS.textChars));
    const bytes = Buffer.byteLength(JSON.stringify(view));
    assert.ok(bytes < LIMITS.clients * LIMITS.filesPerClient * 2 * LIMITS.pathChars, `${bytes} bytes`);
  });

  it('counts a refused request but keeps no boot for it', () => {
    const a = new Activity();
    const ended: string[] = [];
    a.durations = { transferEnded: (p, r) => ended.push(`${p} ${r}`), queryEnded: () => {} };
    a.transfer('http', '10.0.0.9', '../../etc/passwd').end('refused', '403 outside the tree');
    assert.deepEqual(ended, ['http refused']);
    assert.equal(a.live.size, 0);
    assert.equal(a.boots.size, 0);
    a.transfer('http', '10.0.0.9', 'missing').end('not_found', '404 not found');
    assert.equal(a.boots.get('10.0.0.9')?.files.length, 1);
  });

  it('keeps a repeated error once, newest, with how often it happened', () => {
    let now = 1000;
    const a = new Activity(() => now);
    a.error('release: poll failed, still serving release 3: timeout');
    now = 2000;
    a.error('another');
    now = 3000;
    a.error('release: poll failed, still serving release 3: timeout');
    assert.deepEqual(a.errors, [
      { at: 2000, text: 'another', times: 1 },
      { at: 3000, text: 'release: poll failed, still serving release 3: timeout', times: 2 },
    ]);
    for (let i = 0; i < 2 * LIMITS.errors; i++) a.error(`e${i}`);
    assert.equal(a.errors.length, LIMITS.errors);
    a.integrityFailed('saved release failed verification');
    assert.equal(a.counts.integrityFailures, 1);
    assert.equal(a.errors.at(-1)?.text, 'integrity: saved release failed verification');
  });
});

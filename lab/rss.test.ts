import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sampleRss, statusBytes } from './rss.ts';

const STATUS = 'Name:\tnode\nVmPeak:\t 1200000 kB\nVmHWM:\t  210000 kB\nVmRSS:\t  180000 kB\nThreads:\t11\n';

test('reads a field of /proc/<pid>/status in bytes', () => {
  assert.equal(statusBytes(STATUS, 'VmRSS'), 180000 * 1024);
  assert.equal(statusBytes(STATUS, 'VmHWM'), 210000 * 1024);
  assert.equal(statusBytes(STATUS, 'VmSwap'), null);
  assert.equal(statusBytes(STATUS, 'Threads'), null);
});

test('samples this process: memory touched before stop() counts, and the high-water mark is at least the sampled peak', () => {
  const s = sampleRss(process.pid);
  const held = Buffer.alloc(32 * 1024 * 1024, 1);
  const peak = s.stop();
  assert.equal(held[0], 1);
  assert.ok(peak.sampled >= 32 * 1024 * 1024, `sampled ${peak.sampled}`);
  assert.ok(peak.hwm >= peak.sampled);
});

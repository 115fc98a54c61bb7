import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CanisterLog, logCapacity, MAX_RECORD_BYTES, MAX_RECORD_CONTENT, RECORD_OVERHEAD } from './canister_log.ts';

const dirs: string[] = [];
function file(): string {
  const d = mkdtempSync(join(tmpdir(), 'icboot-log-'));
  dirs.push(d);
  return join(d, 'log.json');
}
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const entry = (t: number, s: string) => ({ timestampNanos: BigInt(t), content: text(s) });
const contents = (log: CanisterLog): string[] => log.read().map((r) => new TextDecoder().decode(r.content));
/** One message's records, appended when it ends. */
function append(log: CanisterLog, entries: { timestampNanos: bigint; content: Uint8Array }[]): void {
  const delta = log.delta();
  for (const e of entries) delta.add(e.timestampNanos, e.content);
  log.append(delta);
}

describe('canister log', () => {
  it('numbers records from 0 and stamps them with the message time', () => {
    const log = new CanisterLog(file(), 4096);
    append(log, [entry(10, 'a'), entry(20, 'bb')]);
    assert.deepEqual(log.read().map((r) => [r.idx, r.timestampNanos]), [[0n, 10n], [1n, 20n]]);
    assert.equal(log.bytesUsed, 2 * RECORD_OVERHEAD + 3);
  });

  it('drops the oldest records when the buffer is full, and keeps counting', () => {
    const log = new CanisterLog(file(), 4096);
    // 1000-byte records (40 + 960): four fit in 4096, the fifth pushes out the first.
    for (let i = 0; i < 5; i++) append(log, [entry(i, String(i).repeat(960))]);
    assert.deepEqual(log.read().map((r) => r.idx), [1n, 2n, 3n, 4n]);
    assert.equal(log.bytesUsed, 4000);
  });

  it('cuts a record to 4 KiB, header included', () => {
    const log = new CanisterLog(file(), 1024 * 1024);
    append(log, [entry(1, 'x'.repeat(10_000))]);
    assert.equal(log.read()[0].content.length, MAX_RECORD_BYTES - RECORD_OVERHEAD);
  });

  it('filters by index and by timestamp, end exclusive', () => {
    const log = new CanisterLog(file(), 4096);
    append(log, [entry(10, 'a'), entry(20, 'b'), entry(30, 'c')]);
    assert.deepEqual(log.read({ by_idx: { start: 1n, end: 2n } }).map((r) => r.idx), [1n]);
    assert.deepEqual(log.read({ by_timestamp_nanos: { start: 15n, end: 31n } }).map((r) => r.idx), [1n, 2n]);
  });

  it('comes back from its file with records and next index', () => {
    const f = file();
    const log = new CanisterLog(f, 4096);
    append(log, [entry(1, 'one'), entry(2, 'two')]);
    log.clear();
    append(log, [entry(3, 'three')]);
    const again = new CanisterLog(f, 4096);
    assert.deepEqual(again.read().map((r) => r.idx), [2n]);
    assert.deepEqual(contents(again), ['three']);
    append(again, [entry(4, 'four')]);
    assert.deepEqual(again.read().map((r) => r.idx), [2n, 3n]);
  });

  it('keeps the newest records that fit when shrunk', () => {
    const log = new CanisterLog(file(), 8192);
    for (let i = 0; i < 8; i++) append(log, [entry(i, String(i).repeat(960))]);
    log.resize(4096);
    assert.deepEqual(log.read().map((r) => r.idx), [4n, 5n, 6n, 7n]);
  });

  it('keeps nothing at a limit of 0, and gives small limits one page', () => {
    const log = new CanisterLog(file(), logCapacity(0n));
    append(log, [entry(1, 'lost')]);
    assert.deepEqual(log.read(), []);
    assert.equal(logCapacity(1n), 4096);
    assert.equal(logCapacity(100_000n), 100_000);
  });

  it('holds no more of one message than the log can keep, and numbers the dropped records too', () => {
    const log = new CanisterLog(file(), 8192);
    append(log, [entry(1, 'before')]);
    const delta = log.delta();
    const big = new Uint8Array(100_000).fill(0x61);
    for (let i = 0; i < 1000; i++) delta.add(2n, big);
    // Each print is cut to one record and only the newest two fit: 998 were let go.
    assert.deepEqual(delta.records.map((r) => [r.idx, r.content.length]), [[999n, MAX_RECORD_CONTENT], [1000n, MAX_RECORD_CONTENT]]);
    assert.equal(delta.bytes, 2 * MAX_RECORD_BYTES);
    log.append(delta);
    assert.deepEqual(log.read().map((r) => r.idx), [999n, 1000n]);
    append(log, [entry(3, 'after')]);
    assert.deepEqual(log.read().map((r) => r.idx), [1000n, 1001n]);
    assert.ok(log.bytesUsed <= 8192);
  });

  it('counts the records of a message even at a limit of 0', () => {
    const log = new CanisterLog(file(), 0);
    append(log, [entry(1, 'a'), entry(2, 'b')]);
    log.resize(4096);
    append(log, [entry(3, 'c')]);
    assert.deepEqual(log.read().map((r) => r.idx), [2n]);
  });
});

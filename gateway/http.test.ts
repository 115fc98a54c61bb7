// Range headers as the HTTP server reads them: one byte range, or the whole
// file, or a 416 when the file holds none of the bytes asked for.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRange, type RangeRequest } from './http.ts';

function check(size: number, cases: [string, RangeRequest][]): void {
  for (const [header, want] of cases) assert.deepEqual(parseRange(header, size), want, `${JSON.stringify(header)} of ${size} bytes`);
}

describe('Range header', () => {
  it('reads a single range, its end cut to the last byte', () => {
    check(1000, [
      ['bytes=0-0', { start: 0, end: 0 }],
      ['bytes=100-200', { start: 100, end: 200 }],
      ['bytes=0-999', { start: 0, end: 999 }],
      ['bytes=900-5000', { start: 900, end: 999 }],
      ['bytes=0-99999999999999999999', { start: 0, end: 999 }],
      [' bytes=1-2 ', { start: 1, end: 2 }],
    ]);
  });

  it('reads a suffix range as the last n bytes, at most the whole file', () => {
    check(1000, [
      ['bytes=-500', { start: 500, end: 999 }],
      ['bytes=-1000', { start: 0, end: 999 }],
      ['bytes=-5000', { start: 0, end: 999 }],
    ]);
    check(1, [['bytes=-1', { start: 0, end: 0 }]]);
  });

  it('reads an open range as everything from its start', () => {
    check(1000, [
      ['bytes=0-', { start: 0, end: 999 }],
      ['bytes=990-', { start: 990, end: 999 }],
      ['bytes=999-', { start: 999, end: 999 }],
    ]);
  });

  it('finds a range that holds no byte of the file unsatisfiable (416)', () => {
    check(1000, [
      ['bytes=1000-', 'unsatisfiable'],
      ['bytes=1000-1000', 'unsatisfiable'],
      ['bytes=5000-6000', 'unsatisfiable'],
      ['bytes=99999999999999999999-', 'unsatisfiable'],
      ['bytes=-0', 'unsatisfiable'],
      // Last before first: answered 416 rather than ignored.
      ['bytes=200-100', 'unsatisfiable'],
    ]);
  });

  it('finds every range of an empty file unsatisfiable', () => {
    check(0, [
      ['bytes=0-0', 'unsatisfiable'],
      ['bytes=0-', 'unsatisfiable'],
      ['bytes=-1', 'unsatisfiable'],
      ['bytes=-0', 'unsatisfiable'],
    ]);
  });

  it('sends the whole file for several ranges', () => {
    check(1000, [['bytes=0-1,5-6', 'whole'], ['bytes=0-1, 5-6', 'whole'], ['bytes=-1,0-', 'whole']]);
    check(0, [['bytes=0-1,5-6', 'whole']]);
  });

  it('sends the whole file for a header it cannot read', () => {
    check(1000, [
      ['', 'whole'], ['bytes=', 'whole'], ['bytes=-', 'whole'], ['bytes=a-b', 'whole'], ['bytes=1.5-2', 'whole'],
      ['bytes=0x10-', 'whole'], ['bytes=+1-2', 'whole'], ['bytes 0-1', 'whole'], ['items=0-1', 'whole'], ['Bytes=0-1', 'whole'],
      ['bytes=0-1-2', 'whole'],
    ]);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_JSON_DEPTH, parseJson } from './json_text.ts';

function error(text: string): { line: number; column: number } {
  const r = parseJson(text);
  assert.ok(!r.ok, `accepted: ${text}`);
  assert.ok(r.reason.length > 0 && !r.reason.includes('\n'));
  return { line: r.line, column: r.column };
}

describe('parseJson', () => {
  it('gives the same value as JSON.parse for valid text', () => {
    for (const text of ['{}', '[]', '"x"', '0', '-1.5e+3', 'true', 'null', ' {"a": [1, {"b": "\\u00e9\\n\\"/"}], "c": false} ',
      '{"__proto__": {"x": 1}}']) {
      const r = parseJson(text);
      assert.ok(r.ok, text);
      assert.deepEqual(r.value, JSON.parse(text));
    }
  });

  it('says where the error is, by line and column', () => {
    assert.deepEqual(error('{"a":}'), { line: 1, column: 6 });
    assert.deepEqual(error('{\n  "a": 1,\n}'), { line: 3, column: 1 });
    assert.deepEqual(error('{\n  "a": tru\n}'), { line: 2, column: 8 });
    assert.deepEqual(error('[1 2]'), { line: 1, column: 4 });
    assert.deepEqual(error('{} x'), { line: 1, column: 4 });
    assert.deepEqual(error(''), { line: 1, column: 1 });
    assert.deepEqual(error('{"a": "x\ny"}'), { line: 1, column: 9 });
    assert.deepEqual(error('{"a": "\\x"}'), { line: 1, column: 8 });
    assert.deepEqual(error('{"a": "\\u12"}'), { line: 1, column: 8 });
    assert.deepEqual(error('{"a": "open'), { line: 1, column: 7 });
    assert.deepEqual(error("{'a': 1}"), { line: 1, column: 2 });
    assert.deepEqual(error('[01]'), { line: 1, column: 3 });
    assert.deepEqual(error('[-]'), { line: 1, column: 2 });
  });

  it('refuses a repeated key, pointing at the second', () => {
    assert.deepEqual(error('{"kernel": "a",\n "kernel": "b"}'), { line: 2, column: 2 });
    assert.ok(parseJson('[{"a": 1}, {"a": 2}]').ok, 'equal keys in different objects are fine');
  });

  it('refuses nesting deeper than the limit instead of overflowing the stack', () => {
    assert.ok(parseJson('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH)).ok);
    assert.deepEqual(error('['.repeat(100_000)), { line: 1, column: MAX_JSON_DEPTH + 1 });
  });
});

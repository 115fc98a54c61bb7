import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metricSum } from './prometheus.ts';

const TEXT = `# HELP q Queries.
# TYPE q counter
q{kind="chunk",result="ok"} 40
q{kind="chunk",result="error"} 2
q{kind="index",result="ok"} 1
info{label="a \\"quoted\\", label"} 1
bare 7
`;

test('sums the samples whose labels match', () => {
  assert.equal(metricSum(TEXT, 'q', { kind: 'chunk' }), 42);
  assert.equal(metricSum(TEXT, 'q', { kind: 'chunk', result: 'ok' }), 40);
  assert.equal(metricSum(TEXT, 'q'), 43);
  assert.equal(metricSum(TEXT, 'bare'), 7);
});

test('reads escaped quotes inside a label value', () => {
  assert.equal(metricSum(TEXT, 'info', { label: 'a "quoted", label' }), 1);
});

test('null when no sample has the name and labels', () => {
  assert.equal(metricSum(TEXT, 'q', { kind: 'manifest' }), null);
  assert.equal(metricSum(TEXT, 'missing'), null);
  assert.equal(metricSum(TEXT, 'q_total'), null);
});

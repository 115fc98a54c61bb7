import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { UserError } from '../common/errors.ts';
import { createLogger, formatLine, logFormatOption, parseLogFormat } from './log.ts';

const T = new Date('2026-11-24T18:00:00.123Z');

describe('log lines', () => {
  it('text: the ISO time, a space, the message; fields are left to JSON', () => {
    assert.equal(formatLine('text', T, 'info', 'gateway: serving release 3 (2 files)', { release: 3 }),
      '2026-11-24T18:00:00.123Z gateway: serving release 3 (2 files)\n');
  });

  it('json: one object per line, time, level and msg first, then the fields', () => {
    const line = formatLine('json', T, 'error', 'two\nlines "quoted"', { release: 3, label: 'a' });
    assert.equal(line.indexOf('\n'), line.length - 1, 'one line');
    assert.deepEqual(Object.entries(JSON.parse(line)),
      [['time', '2026-11-24T18:00:00.123Z'], ['level', 'error'], ['msg', 'two\nlines "quoted"'], ['release', 3], ['label', 'a']]);
  });

  it('json: a field cannot replace time, level or msg', () => {
    assert.deepEqual(JSON.parse(formatLine('json', T, 'info', 'm', { time: 'x', level: 'error', msg: 'forged', n: 1 })),
      { time: '2026-11-24T18:00:00.123Z', level: 'info', msg: 'm', n: 1 });
  });

  it('a logger writes each call as one line at its level, with the time of the call', () => {
    const lines: string[] = [];
    let tick = 0;
    const log = createLogger('json', (l) => lines.push(l), () => new Date(T.getTime() + 1000 * tick++));
    log.info('started', { url: 'http://127.0.0.1:4943' });
    log.error('internal error');
    assert.deepEqual(lines.map((l) => JSON.parse(l)), [
      { time: '2026-11-24T18:00:00.123Z', level: 'info', msg: 'started', url: 'http://127.0.0.1:4943' },
      { time: '2026-11-24T18:00:01.123Z', level: 'error', msg: 'internal error' },
    ]);
  });

  it('--log-format takes text or json, text by default; anything else is refused', () => {
    const parse = (args: string[]): unknown => new Command().exitOverride().configureOutput({ writeErr: () => {} })
      .addOption(logFormatOption()).parse(args, { from: 'user' }).opts().logFormat;
    assert.equal(parse([]), 'text');
    assert.equal(parse(['--log-format', 'json']), 'json');
    assert.throws(() => parse(['--log-format', 'xml']), { code: 'commander.invalidArgument' });
    assert.equal(parseLogFormat('json'), 'json');
    assert.throws(() => parseLogFormat('xml'), UserError);
  });
});

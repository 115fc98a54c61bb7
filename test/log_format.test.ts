// --log-format on a long-running command, as a log collector reads it: `icboot
// devnet` (with a fault injected, so it has a line to log at start) writes one
// JSON object per stderr line, each with its time, until SIGTERM.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO, tempDir } from '../lab/devnet.ts';
import { until } from '../lab/poll.ts';
import { startUntil } from '../lab/process.ts';

interface Line { time: string; level: string; msg: string }

describe('--log-format', () => {
  it('json: icboot devnet logs one object per line, each with time, level and msg', async () => {
    const state = tempDir('log-format');
    const devnet = await startUntil('icboot devnet', [join(REPO, 'cli', 'icboot.js'), 'devnet', '--port', '0', '--state-dir', join(state, 'devnet'),
      '--latency', '1', '--log-format', 'json'], [/devnet listening on/], { timeoutMs: 60_000 });
    await until(() => devnet.logs.length > 0, 'the fault injection line', 30_000);
    assert.equal(await devnet.stop('SIGTERM'), 0);
    // stderr may still be arriving after the exit.
    await until(() => devnet.logs.some((l) => l.includes('shutting down')), 'the shutdown line', 30_000);
    const lines = devnet.logs.map((l) => JSON.parse(l) as Line);
    for (const l of lines) {
      assert.equal(new Date(l.time).toISOString(), l.time, 'an ISO 8601 time');
      assert.equal(l.level, 'info');
    }
    assert.deepEqual(lines.map((l) => l.msg), ['devnet: fault injection on: latency 1 ms', 'devnet: SIGTERM, shutting down']);
  });
});

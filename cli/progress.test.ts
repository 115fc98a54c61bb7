// Upload progress as a log reads it, and what Ctrl-C says at each phase.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { interruptedUpload, progressPrinter } from './progress.ts';

/** A non-terminal stream that keeps what is written. */
function log(): { out: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const out = { isTTY: false, write: (s: string) => { text += s; return true; } } as unknown as NodeJS.WriteStream;
  return { out, text: () => text };
}

describe('upload progress', () => {
  it('logs sending with the chunks stored, but no line before anything is sent', () => {
    const l = log();
    const show = progressPrinter(l.out);
    show.update({ phase: 'sending', done: 0, total: 4 * 1024 * 1024, chunks: { done: 0, total: 4 } });
    assert.equal(l.text(), '');
    show.update({ phase: 'sending', done: 1024 * 1024, total: 4 * 1024 * 1024, chunks: { done: 1, total: 4 } });
    assert.match(l.text(), /^sending 1\.0 MiB \/ 4\.0 MiB, 1\/4 chunks {2}/);
  });

  it('says what an interrupted upload sent and that the same command resumes it', () => {
    assert.equal(
      interruptedUpload({ phase: 'sending', done: 3 * 1024 * 1024, total: 8 * 1024 * 1024, chunks: { done: 3, total: 8 } }),
      'upload interrupted: sent 3 of 8 chunks (3.0 MiB of 8.0 MiB); run the same command again to resume, it sends only what is still missing',
    );
    assert.match(interruptedUpload({ phase: 'publishing', done: 0, total: 1 }), /every chunk was sent; run the same command again to finish$/);
    assert.match(interruptedUpload({ phase: 'hashing', done: 10, total: 20 }), /before sending anything/);
    assert.match(interruptedUpload(undefined), /before sending anything/);
  });
});

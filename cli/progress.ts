// Upload progress: a redrawn bar (bytes, chunks, rate, ETA) on a terminal, a
// plain line per phase and every few seconds otherwise (logs, CI); and what
// to say when Ctrl-C stops an upload midway.
import type { Progress } from '../uploader/upload.ts';
import { bytes } from './format.ts';

const PLAIN_INTERVAL_MS = 5000;

const chunkCount = (p: Progress): string => (p.chunks ? `, ${p.chunks.done}/${p.chunks.total} chunks` : '');

export function progressPrinter(out: NodeJS.WriteStream): { update: (p: Progress) => void; done: () => void } {
  let phase = '';
  let phaseStart = performance.now();
  let lastPlain = -Infinity;
  let drawn = false;
  const line = (p: Progress): string => {
    const seconds = (performance.now() - phaseStart) / 1000;
    if (p.phase === 'checking' || p.phase === 'publishing') return `${p.phase} ${p.done}/${p.total}`;
    const rate = seconds > 0 ? p.done / seconds : 0;
    const eta = rate > 0 ? (p.total - p.done) / rate : 0;
    return `${p.phase} ${bytes(p.done)} / ${bytes(p.total)}${chunkCount(p)}  ${bytes(rate)}/s  ETA ${eta.toFixed(0)} s`;
  };
  return {
    update(p) {
      if (p.phase !== phase) {
        phase = p.phase;
        phaseStart = performance.now();
        lastPlain = -Infinity;
      }
      if (out.isTTY) {
        const width = 24;
        const filled = p.total > 0 ? Math.round((p.done / p.total) * width) : width;
        out.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${line(p)}\x1b[K`);
        drawn = true;
      } else if (p.done > 0 && (performance.now() - lastPlain > PLAIN_INTERVAL_MS || p.done === p.total)) {
        // A log gets no line saying nothing has happened yet: a phase's first line shows its first progress.
        lastPlain = performance.now();
        out.write(line(p) + '\n');
      }
    },
    done() {
      if (drawn) out.write('\n');
      drawn = false;
    },
  };
}

/** What an upload interrupted after progress `p` (none: before hashing ended) has sent, and how to finish it. */
export function interruptedUpload(p: Progress | undefined): string {
  const again = 'run the same command again to';
  if (p?.phase === 'sending' && p.chunks) {
    return `upload interrupted: sent ${p.chunks.done} of ${p.chunks.total} chunks (${bytes(p.done)} of ${bytes(p.total)}); `
      + `${again} resume, it sends only what is still missing`;
  }
  if (p?.phase === 'publishing') return `upload interrupted while creating the release: every chunk was sent; ${again} finish`;
  return `upload interrupted before sending anything; ${again} start over`;
}

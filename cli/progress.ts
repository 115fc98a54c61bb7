// Upload progress: a redrawn bar (bytes, rate, ETA) on a terminal, a plain
// line per phase and every few seconds otherwise (logs, CI).
import type { Progress } from '../uploader/upload.ts';
import { bytes } from './format.ts';

const PLAIN_INTERVAL_MS = 5000;

export function progressPrinter(out: NodeJS.WriteStream): { update: (p: Progress) => void; done: () => void } {
  let phase = '';
  let phaseStart = performance.now();
  let lastPlain = 0;
  let drawn = false;
  const line = (p: Progress): string => {
    const seconds = (performance.now() - phaseStart) / 1000;
    if (p.phase === 'checking' || p.phase === 'publishing') return `${p.phase} ${p.done}/${p.total}`;
    const rate = seconds > 0 ? p.done / seconds : 0;
    const eta = rate > 0 ? (p.total - p.done) / rate : 0;
    return `${p.phase} ${bytes(p.done)} / ${bytes(p.total)}  ${bytes(rate)}/s  ETA ${eta.toFixed(0)} s`;
  };
  return {
    update(p) {
      if (p.phase !== phase) {
        phase = p.phase;
        phaseStart = performance.now();
        lastPlain = 0;
      }
      if (out.isTTY) {
        const width = 24;
        const filled = p.total > 0 ? Math.round((p.done / p.total) * width) : width;
        out.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${line(p)}\x1b[K`);
        drawn = true;
      } else if (performance.now() - lastPlain > PLAIN_INTERVAL_MS || p.done === p.total) {
        lastPlain = performance.now();
        out.write(line(p) + '\n');
      }
    },
    done() {
      if (drawn) out.write('\n');
    },
  };
}

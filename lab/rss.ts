// A process's resident memory as Linux reports it in /proc/<pid>/status:
// sampled while something runs, with the kernel's own high-water mark
// (VmHWM) at the end, which also catches peaks between two samples.
import { readFileSync } from 'node:fs';

/** The `field` (e.g. VmRSS, VmHWM) of a /proc/<pid>/status text, in bytes; null when it is absent. */
export function statusBytes(status: string, field: string): number | null {
  const m = new RegExp(`^${field}:\\s*(\\d+) kB$`, 'm').exec(status);
  return m ? Number(m[1]) * 1024 : null;
}

export interface MemoryPeak {
  /** The largest VmRSS sampled. */
  sampled: number;
  /** VmHWM when sampling stopped: the peak since the process started. */
  hwm: number;
  samples: number;
}

/** Samples VmRSS of `pid` every `everyMs` until stop(), which must be called while the process still runs. */
export function sampleRss(pid: number, everyMs = 100): { stop(): MemoryPeak } {
  const read = (field: string): number => {
    const v = statusBytes(readFileSync(`/proc/${pid}/status`, 'utf8'), field);
    if (v === null) throw new Error(`/proc/${pid}/status has no ${field}: is it a kernel thread?`);
    return v;
  };
  let sampled = read('VmRSS');
  let samples = 1;
  const timer = setInterval(() => {
    sampled = Math.max(sampled, read('VmRSS'));
    samples++;
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return { sampled: Math.max(sampled, read('VmRSS')), hwm: read('VmHWM'), samples: samples + 1 };
    },
  };
}

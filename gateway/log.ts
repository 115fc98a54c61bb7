// Log lines about what clients send. Client-supplied names are shown with
// control characters escaped, so a request cannot forge log lines. Lines an
// attacker could repeat thousands of times a second (refused requests,
// dropped packets, evictions) are throttled: the first of each kind in a
// period is logged, the rest are counted and summed up in the next line of
// that kind.

export class LogThrottle {
  private readonly kinds = new Map<string, { until: number; suppressed: number }>();

  constructor(private readonly log: (line: string) => void, private readonly periodMs = 10_000) {}

  line(kind: string, text: string): void {
    const now = Date.now();
    const k = this.kinds.get(kind);
    if (k && now < k.until) {
      k.suppressed++;
      return;
    }
    const more = k && k.suppressed > 0 ? ` (${k.suppressed} more like it since the last such line)` : '';
    this.kinds.set(kind, { until: now + this.periodMs, suppressed: 0 });
    this.log(text + more);
  }
}

/** A client-supplied name, safe for one log line: control characters escaped, at most 200 characters. */
export function printable(name: string): string {
  const cut = name.length > 200 ? `${name.slice(0, 200)}...` : name;
  return cut.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

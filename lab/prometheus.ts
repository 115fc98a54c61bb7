// Reads numbers out of a Prometheus text exposition, as a scraper would, so a
// benchmark can count what a process did (e.g. canister queries) from outside.

/** `name{k="v",…} value` lines: the labels in a map, the value a number. */
interface Sample {
  name: string;
  labels: Map<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = SAMPLE.exec(line);
    if (!m) continue; // Comments (# HELP, # TYPE) and blank lines.
    const labels = new Map<string, string>();
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels.set(l[1], l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)));
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The sum of the samples named `name` whose labels include every one of `match`; null when none has them. */
export function metricSum(text: string, name: string, match: Record<string, string> = {}): number | null {
  const found = samples(text).filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels.get(k) === v));
  return found.length === 0 ? null : found.reduce((n, s) => n + s.value, 0);
}

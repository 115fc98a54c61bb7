// `node --import tsx bench/dhcp.ts`: the DHCP codec on the fuzz corpus
// (gateway/dhcp/corpus.ts): what parseDhcp makes of each kind, how many
// inputs made it throw (must be 0), and packets parsed per second, for the
// corpus and for valid PXE DISCOVERs. Seeded, so every run parses the same
// bytes; only the rates vary with the machine. The outcome count streams the
// corpus; the rates use its first RATE_COUNT packets, held in memory so
// generating them is not timed.
import { performance } from 'node:perf_hooks';
import { CORPUS_KINDS, malformedPackets, pxeDiscover, type CorpusKind } from '../gateway/dhcp/corpus.ts';
import { parseDhcp } from '../gateway/dhcp/packet.ts';

const SEED = 1;
const COUNT = 100_000;
const RATE_COUNT = 22_000;
const ROUNDS = 5;

const outcomes = new Map<CorpusKind, Map<string, number>>();
let throws = 0;
let total = 0;
for (const { kind, bytes } of malformedPackets(SEED, COUNT)) {
  total += bytes.length;
  let key: string;
  try {
    const r = parseDhcp(bytes);
    key = r.ok ? 'ok' : r.problem;
  } catch {
    throws++;
    key = 'THREW';
  }
  const m = outcomes.get(kind) ?? new Map<string, number>();
  m.set(key, (m.get(key) ?? 0) + 1);
  outcomes.set(kind, m);
}

/** Median packets per second over ROUNDS passes of `packets`. */
function rate(packets: Buffer[]): number {
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now();
    for (const p of packets) parseDhcp(p);
    rates.push(packets.length / ((performance.now() - t) / 1000));
  }
  return rates.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)];
}

const discovers = Array.from({ length: RATE_COUNT }, (_, i) =>
  pxeDiscover({ mac: `52:54:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`, arch: [0, 7, 11][i % 3], ipxe: i % 2 === 0 }));

const table = (rows: string[][]): void => {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd());
};

console.log(`corpus: seed ${SEED}, ${COUNT} packets, ${(total / 1e6).toFixed(1)} MB\n`);
table([
  ['kind', 'expected', 'outcomes'],
  ...Object.entries(CORPUS_KINDS).map(([kind, expected]) => [
    kind, expected ?? 'any', [...(outcomes.get(kind as CorpusKind) ?? [])].map(([k, n]) => `${k} ${n}`).join(', '),
  ]),
]);
console.log(`\nthrew: ${throws} of ${COUNT}\n`);
const sample = [...malformedPackets(SEED, RATE_COUNT)].map((p) => p.bytes);
const sampleBytes = sample.reduce((n, b) => n + b.length, 0);
const corpusRate = rate(sample);
const discoverRate = rate(discovers);
table([
  ['input', 'packets/s (median of 5)', 'MB/s'],
  [`malformed corpus (first ${RATE_COUNT})`, corpusRate.toFixed(0), (corpusRate * sampleBytes / RATE_COUNT / 1e6).toFixed(0)],
  ['valid PXE DISCOVERs', discoverRate.toFixed(0), (discoverRate * discovers[0].length / 1e6).toFixed(0)],
]);
if (throws > 0) process.exit(1);

// Human-readable output for the CLI.

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** A byte count as a flag value reads it back: the largest of G, M, K that divides it (268435456 → `256M`). */
export function byteFlag(n: number): string {
  for (const [unit, size] of [['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) {
    if (n >= size && n % size === 0) return `${n / size}${unit}`;
  }
  return String(n);
}

/** Nanoseconds since the epoch (decimal string) → ISO time, to the second. */
export function isoTime(ns: string): string {
  return new Date(Number(BigInt(ns) / 1_000_000n)).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Left-aligned columns; the last column is not padded. */
export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd()).join('\n');
}

/** A cycles amount in T (10^12), B or M with two decimals, rounded down: `1.23 T cycles`; below a million, in full. */
export function cycles(n: bigint): string {
  const units: [bigint, string][] = [[1_000_000_000_000n, 'T'], [1_000_000_000n, 'B'], [1_000_000n, 'M']];
  for (const [size, unit] of units) {
    // Hundredths, rounded down in bigint so huge balances keep their digits.
    if (n >= size) return `${(Number((n * 100n) / size) / 100).toFixed(2)} ${unit} cycles`;
  }
  return `${n} cycles`;
}

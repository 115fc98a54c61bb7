// How the benchmarks summarise and print what they measure.

/** The middle value (the upper one of an even count): loopback timings have outliers. */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Throughput of `bytes` in `seconds`. */
export const mbs = (bytes: number, seconds: number): string => `${(bytes / seconds / 1e6).toFixed(1)} MB/s`;

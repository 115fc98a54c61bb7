// Chunk arithmetic, the one definition: a file of `size` bytes is cut into
// chunks of `chunkSize` bytes, all full but the last; an empty file has none.

export function chunkCount(size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize);
}

/** Byte range [start, end) of chunk `i`. */
export function chunkRange(size: number, chunkSize: number, i: number): { start: number; end: number } {
  const start = i * chunkSize;
  return { start, end: Math.min(size, start + chunkSize) };
}

export function chunkLength(size: number, chunkSize: number, i: number): number {
  const { start, end } = chunkRange(size, chunkSize, i);
  return end - start;
}

/** The chunk that holds byte `offset`. */
export function chunkAt(offset: number, chunkSize: number): number {
  return Math.floor(offset / chunkSize);
}

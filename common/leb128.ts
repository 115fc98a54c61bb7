// The length of an unsigned LEB128 number, as Candid prefixes blobs and text with it.

export function lebLength(n: number): number {
  let bytes = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    bytes++;
  }
  return bytes;
}

// Message time: nanoseconds since the epoch, strictly increasing from one
// message to the next even when the wall clock stalls or steps back.
export class Clock {
  private last = 0n;

  now(): bigint {
    const t = BigInt(Date.now()) * 1_000_000n;
    this.last = t > this.last ? t : this.last + 1n;
    return this.last;
  }
}

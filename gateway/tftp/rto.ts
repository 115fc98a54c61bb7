// The retransmission timeout of a transfer whose client did not set one
// (RFC 1123 4.2.3.2 asks TFTP for an adaptive timeout): the round-trip time
// estimator of RFC 6298, between a floor and the configured timeout. On a LAN
// a lost block then costs a few round trips, not a second: what makes a boot
// storm on a lossy network finish.

/** Below this a retransmission would race a client that is only slow (firmware writing a block out, a busy host). */
export const MIN_RTO_MS = 100;

export class Rto {
  private srtt: number | null = null;
  private rttvar = 0;
  private rto: number;

  /** `ceiling`: the timeout before any sample, and the most it may become. */
  constructor(private readonly ceiling: number) {
    this.rto = ceiling;
  }

  get ms(): number {
    return this.rto;
  }

  /** A round trip of a block sent once (Karn: a retransmitted block's ACK says nothing of the path). */
  sample(ms: number): void {
    if (this.srtt === null) {
      this.srtt = ms;
      this.rttvar = ms / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - ms);
      this.srtt = 0.875 * this.srtt + 0.125 * ms;
    }
    // Whole 10 ms steps: a transfer's timer is refreshed, not replaced, while its timeout stays the same.
    const estimate = Math.ceil((this.srtt + 4 * this.rttvar) / 10) * 10;
    this.rto = Math.min(this.ceiling, Math.max(Math.min(MIN_RTO_MS, this.ceiling), estimate));
  }
}

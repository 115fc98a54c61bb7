// Fault injection for tests and demos (off by default): slow replies, failed
// queries, and a node that corrupts the reply to queries naming a given chunk.
import { hexToBytes } from '@noble/hashes/utils';
import type { CallResult } from './call_result.ts';

export interface FaultOptions {
  /** Added to every query, call and read_state reply, ms. */
  latencyMs?: number;
  /** Share of queries answered with HTTP 503, 0 to 1. */
  failQueries?: number;
  /** SHA-256 (hex) of chunks whose query replies are corrupted. */
  corruptChunks?: string[];
}

export class Faults {
  private readonly corrupt: Uint8Array[];

  constructor(private readonly o: FaultOptions = {}) {
    this.corrupt = (o.corruptChunks ?? []).map((h) => hexToBytes(h));
  }

  get active(): boolean {
    return Boolean(this.o.latencyMs || this.o.failQueries || this.corrupt.length);
  }

  describe(): string {
    const parts = [];
    if (this.o.latencyMs) parts.push(`latency ${this.o.latencyMs} ms`);
    if (this.o.failQueries) parts.push(`${this.o.failQueries * 100}% of queries fail`);
    if (this.corrupt.length) parts.push(`corrupting ${this.corrupt.length} chunk(s)`);
    return parts.join(', ');
  }

  async delay(): Promise<void> {
    if (this.o.latencyMs) await new Promise((r) => setTimeout(r, this.o.latencyMs));
  }

  failQuery(): boolean {
    return (this.o.failQueries ?? 0) > 0 && Math.random() < this.o.failQueries!;
  }

  /** The reply a faulty node would sign: one byte flipped when the query names a corrupted chunk. */
  tamper(arg: Uint8Array, result: CallResult): CallResult {
    if (result.status !== 'replied' || result.reply.length === 0) return result;
    if (!this.corrupt.some((h) => contains(arg, h))) return result;
    const reply = result.reply.slice();
    reply[reply.length - 1] ^= 0xff;
    return { status: 'replied', reply };
  }
}

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.length).includes(Buffer.from(needle.buffer, needle.byteOffset, needle.length));
}

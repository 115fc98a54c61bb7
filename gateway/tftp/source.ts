// What a TFTP transfer reads from: the handler's contract with the server.

export interface Source {
  /** Bytes the stream will deliver; announced as tsize and checked at the end. */
  size: number;
  stream: AsyncIterable<Uint8Array>;
}

export interface Client {
  address: string;
  port: number;
}

export type Handler = (path: string, client: Client) => Promise<Source>;

/** A failure the handler reports with a TFTP error code (e.g. 1, file not found). */
export class TftpError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/** Hands out exact-size blocks from a stream of arbitrary-size pieces. */
export class BlockReader {
  private readonly it: AsyncIterator<Uint8Array>;
  private pending: Uint8Array[] = [];
  private buffered = 0;
  private done = false;

  constructor(stream: AsyncIterable<Uint8Array>) {
    this.it = stream[Symbol.asyncIterator]();
  }

  /**
   * Up to `n` bytes, fewer only at the end of the stream, placed after
   * `headroom` spare bytes (room for a packet header, saving a copy).
   */
  async read(n: number, headroom = 0): Promise<Buffer> {
    while (this.buffered < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else if (r.value.length > 0) {
        this.pending.push(r.value);
        this.buffered += r.value.length;
      }
    }
    return this.take(n, headroom);
  }

  /** read() without waiting, when the bytes are already here; null otherwise. */
  readNow(n: number, headroom = 0): Buffer | null {
    return this.buffered >= n || this.done ? this.take(n, headroom) : null;
  }

  private take(n: number, headroom: number): Buffer {
    const take = Math.min(n, this.buffered);
    const out = Buffer.allocUnsafe(headroom + take);
    let p = headroom;
    while (p < headroom + take) {
      const head = this.pending[0];
      const k = Math.min(head.length, headroom + take - p);
      out.set(head.subarray(0, k), p);
      p += k;
      if (k === head.length) this.pending.shift();
      else this.pending[0] = head.subarray(k);
    }
    this.buffered -= take;
    return out;
  }

  /** Stops the source (a transfer that ends early). */
  async close(): Promise<void> {
    if (!this.done) {
      this.done = true;
      await this.it.return?.();
    }
  }
}

/** netascii (RFC 764): LF → CR LF, CR → CR NUL. */
export async function* netascii(stream: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for await (const chunk of stream) {
    const out: number[] = [];
    for (const byte of chunk) {
      if (byte === 0x0a) out.push(0x0d, 0x0a);
      else if (byte === 0x0d) out.push(0x0d, 0x00);
      else out.push(byte);
    }
    yield Uint8Array.from(out);
  }
}

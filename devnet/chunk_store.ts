// A canister's wasm chunk store (upload_chunk / install_chunked_code): chunks
// kept as files named by their SHA-256, so they survive a devnet restart.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex } from '@noble/hashes/utils';
import { writeAtomic } from '../common/write_atomic.ts';

export class ChunkStore {
  /** Bytes stored, read from disk once: canister memory counts them on every message. */
  private total: number | undefined;

  constructor(private readonly dir: string) {}

  hashes(): string[] {
    return existsSync(this.dir) ? readdirSync(this.dir).filter((n) => /^[0-9a-f]{64}$/.test(n)) : [];
  }

  get size(): number {
    return this.hashes().length;
  }

  get bytes(): number {
    this.total ??= this.hashes().reduce((n, h) => n + statSync(join(this.dir, h)).size, 0);
    return this.total;
  }

  put(chunk: Uint8Array): Uint8Array {
    const hash = sha256(chunk);
    const path = join(this.dir, bytesToHex(hash));
    const fresh = !existsSync(path);
    mkdirSync(this.dir, { recursive: true });
    writeAtomic(path, chunk);
    if (fresh && this.total !== undefined) this.total += chunk.length;
    return hash;
  }

  get(hash: Uint8Array): Uint8Array | undefined {
    const path = join(this.dir, bytesToHex(hash));
    return existsSync(path) ? new Uint8Array(readFileSync(path)) : undefined;
  }

  clear(): void {
    rmSync(this.dir, { recursive: true, force: true });
    this.total = 0;
  }
}

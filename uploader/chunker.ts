// Hashes a file chunk by chunk as it is read: a 2 GB image never sits in
// memory. Chunk bytes are read again by offset when they are sent.
import { open, type FileHandle } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { UserError } from '../client/errors.ts';
import { chunkRange } from '../common/chunks.ts';
import type { TreeFile } from './walk.ts';

export interface HashedFile extends TreeFile {
  sha256: Uint8Array;
  chunks: Uint8Array[];
}

async function withFile<T>(file: TreeFile, use: (h: FileHandle) => Promise<T>): Promise<T> {
  let handle: FileHandle;
  try {
    handle = await open(file.source, 'r');
  } catch (e) {
    throw new UserError(`${file.path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return await use(handle);
  } finally {
    await handle.close();
  }
}

/** Fills `buf` from `position`, short only at the end of the file. */
async function readFull(h: FileHandle, buf: Uint8Array, position: number): Promise<number> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await h.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

export function hashFile(file: TreeFile, chunkSize: number): Promise<HashedFile> {
  return withFile(file, async (h) => {
    // Node's native SHA-256: hashing runs at disk speed, not at JS speed.
    const whole = createHash('sha256');
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(chunkSize);
    let size = 0;
    for (;;) {
      const n = await readFull(h, buf, size);
      if (n === 0) break;
      const data = buf.subarray(0, n);
      whole.update(data);
      chunks.push(createHash('sha256').update(data).digest());
      size += n;
      if (n < chunkSize) break;
    }
    if (size !== file.size) throw new UserError(`${file.path}: changed while it was read (${file.size} → ${size} bytes)`);
    return { ...file, sha256: new Uint8Array(whole.digest()), chunks };
  });
}

/**
 * Reads chunk `index` of a file back from disk and checks it still has the
 * hash it was listed with: the canister keeps the first bytes sent for a hash.
 */
export function readChunk(file: HashedFile, chunkSize: number, index: number): Promise<Uint8Array> {
  return withFile(file, async (h) => {
    const { start, end } = chunkRange(file.size, chunkSize, index);
    const buf = new Uint8Array(end - start);
    const n = await readFull(h, buf, start);
    const hash = createHash('sha256').update(buf).digest();
    if (n !== buf.length || !hash.equals(file.chunks[index])) throw new UserError(`${file.path}: changed while it was uploaded; run the upload again`);
    return buf;
  });
}

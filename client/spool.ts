// A file of a release, read and verified completely before anyone sees a byte
// of it: `icboot cat` must write a whole verified file or nothing at all. The
// bytes wait in a private temporary file, so memory stays flat for large files.
import { createReadStream, mkdtempSync, openSync, closeSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ManifestFile } from '../common/manifest.ts';
import { verifiedFile } from './verify.ts';

/** Reads `file` through `chunk` into a temporary file, verified, then copies it to `out`. */
export async function writeVerified(file: ManifestFile, chunk: (hash: string) => Promise<Uint8Array>, out: NodeJS.WritableStream): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'icboot-cat-'));
  const path = join(dir, 'file');
  try {
    const fd = openSync(path, 'w', 0o600);
    try {
      for await (const piece of verifiedFile(file, chunk)) writeSync(fd, piece);
    } finally {
      closeSync(fd);
    }
    await pipeline(createReadStream(path), out, { end: false });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

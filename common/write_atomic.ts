import { renameSync, rmSync, writeFileSync } from 'node:fs';

/** Replaces a file so that readers see the old or the new contents, never a mix. */
export function writeAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    // A half-written or unrenamable temporary file is of no use to anyone.
    rmSync(tmp, { force: true });
    throw e;
  }
}

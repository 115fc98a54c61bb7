import { renameSync, writeFileSync } from 'node:fs';

/** Replaces a file so that readers see the old or the new contents, never a mix. */
export function writeAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

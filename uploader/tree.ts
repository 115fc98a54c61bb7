// A local boot directory as a TreeReader, so `icboot upload` and
// `icboot machines DIR` check machine profiles with the code the gateway uses.
import { readFile } from 'node:fs/promises';
import { UserError } from '../client/errors.ts';
import type { TreeReader } from '../common/machines/types.ts';
import { walkTree, type TreeFile } from './walk.ts';

/** The directory at `dir`, walked as `icboot upload` walks it. */
export function localTree(dir: string): TreeReader {
  return treeReader(walkTree(dir));
}

/** Files already walked; reads each from its source (a symlink's target). */
export function treeReader(files: TreeFile[]): TreeReader {
  const byPath = new Map(files.map((f) => [f.path, f]));
  return {
    paths: () => byPath.keys(),
    size: (path) => byPath.get(path)?.size ?? 0,
    read: async (path) => {
      const f = byPath.get(path);
      if (!f) throw new UserError(`${path}: not in the tree`);
      try {
        return await readFile(f.source);
      } catch (e) {
        throw new UserError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
    },
  };
}

// Walks a boot tree directory (laid out like /srv/tftp) into the list of files
// a release holds. A symlink inside the tree stands for the file it points to
// (Debian's netboot tree links pxelinux.0 into debian-installer/); links that
// leave the tree, loops, sockets, FIFOs and devices are refused.
import { constants, accessSync, lstatSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { MAX_FILES } from '../common/limits.ts';
import { pathError } from '../common/path.ts';
import { UserError } from '../client/errors.ts';

export interface TreeFile {
  /** Path inside the tree, `/`-separated. */
  path: string;
  /** Where to read the bytes (the link target for symlinks). */
  source: string;
  size: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A directory entry's name, which must be UTF-8: release paths are UTF-8, and a
 * name in another encoding could not be read back. The error shows the name
 * with its undecodable bytes as \xNN.
 */
function utf8Name(name: Buffer, parent: string): string {
  try {
    return utf8.decode(name);
  } catch {
    const shown = [...name].map((c) => (c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`)).join('');
    throw new UserError(`${join(parent, shown)}: file name is not valid UTF-8; rename it (e.g. with convmv) and upload again`);
  }
}

export function walkTree(dir: string): TreeFile[] {
  let root: string;
  try {
    root = realpathSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT' || code === 'ENOTDIR' ? `${dir}: no such directory` : `${dir}: cannot open (${code ?? (e as Error).message})`);
  }
  if (!statSync(root).isDirectory()) throw new UserError(`${dir}: not a directory`);
  const files: TreeFile[] = [];
  const visit = (abs: string, rel: string, ancestors: Set<string>): void => {
    let raw: Buffer[];
    try {
      raw = readdirSync(abs, { encoding: 'buffer' });
    } catch (e) {
      throw new UserError(`${join(dir, rel)}: cannot read directory (${(e as NodeJS.ErrnoException).code})`);
    }
    for (const name of raw.map((b) => utf8Name(b, join(dir, rel))).sort()) {
      const childRel = rel ? `${rel}/${name}` : name;
      const shown = join(dir, childRel);
      const err = pathError(childRel);
      if (err) throw new UserError(`${shown}: ${err}`);
      let path = join(abs, name);
      let st = lstatSync(path);
      if (st.isSymbolicLink()) {
        let target: string;
        try {
          target = realpathSync(path);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          throw new UserError(`${shown}: ${code === 'ELOOP' ? 'symlink loop' : 'broken symlink'}`);
        }
        const inside = relative(root, target);
        if (inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
          throw new UserError(`${shown}: symlink points outside the tree (${target})`);
        }
        path = target;
        st = statSync(target);
      }
      if (st.isDirectory()) {
        const real = realpathSync(path);
        if (ancestors.has(real)) throw new UserError(`${shown}: symlink loop (points to an enclosing directory)`);
        visit(real, childRel, new Set([...ancestors, real]));
      } else if (st.isFile()) {
        try {
          accessSync(path, constants.R_OK);
        } catch {
          throw new UserError(`${shown}: file is not readable`);
        }
        files.push({ path: childRel, source: path, size: st.size });
        // Links to sibling directories can multiply a tree; stop well before it hangs.
        if (files.length > MAX_FILES) throw new UserError(`${dir}: more than ${MAX_FILES} files (the most a release holds)`);
      } else {
        const kind = st.isSocket() ? 'a socket' : st.isFIFO() ? 'a FIFO' : st.isBlockDevice() || st.isCharacterDevice() ? 'a device' : 'not a regular file';
        throw new UserError(`${shown}: is ${kind}; only regular files, directories and symlinks inside the tree are allowed`);
      }
    }
  };
  visit(root, '', new Set([root]));
  return files;
}

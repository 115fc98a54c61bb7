// The one rule for turning a name a client asks for (over TFTP or HTTP) into a
// path of the boot tree: `\` is read as `/`, empty and `.` segments are
// dropped (so `//a/./b` is `a/b`, as a file system would read it), `..` is
// refused, and what is left must be a valid tree path (common/path.ts).
import { pathError } from '../common/path.ts';

export type RequestPath =
  | { ok: true; path: string }
  /** `refused`: the name is not allowed (traversal, control characters); otherwise there is simply no such file. */
  | { ok: false; refused: boolean; message: string };

export function requestPath(name: string): RequestPath {
  const segments = name.replace(/\\/g, '/').split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) return { ok: false, refused: true, message: 'access violation: ".." in path' };
  const path = segments.join('/');
  if (path === '') return { ok: false, refused: false, message: 'no file named' };
  const error = pathError(path);
  if (error) return { ok: false, refused: true, message: `access violation: ${error}` };
  return { ok: true, path };
}

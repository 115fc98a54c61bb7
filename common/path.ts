// Checks on what writers send. Each returns an error message or null, so the
// canister can trap with it and Node code can test it directly.
import { MAX_PATH_BYTES, MAX_PATH_DEPTH, MAX_SEGMENT_BYTES } from './limits.ts';

/** UTF-8 length; ASCII is counted without encoding, which the canister cannot afford per path. */
export function utf8Length(s: string): number {
  return /^[\x00-\x7f]*$/.test(s) ? s.length : new TextEncoder().encode(s).length;
}

/** A boot tree path: relative, `/`-separated, no empty, `.` or `..` segments. */
export function pathError(path: string): string | null {
  if (path.length === 0) return 'path is empty';
  if (utf8Length(path) > MAX_PATH_BYTES) return `path is longer than ${MAX_PATH_BYTES} bytes`;
  if (path.includes('\0')) return 'path contains NUL';
  if (path.includes('\\')) return 'path contains a backslash (use /)';
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'path contains a control character';
  if (path.startsWith('/')) return 'path must be relative (no leading /)';
  const segments = path.split('/');
  if (segments.length > MAX_PATH_DEPTH) return `path is deeper than ${MAX_PATH_DEPTH} levels`;
  for (const s of segments) {
    if (s === '') return 'path has an empty segment';
    if (s === '.' || s === '..') return `path has a "${s}" segment`;
    if (utf8Length(s) > MAX_SEGMENT_BYTES) return `path segment longer than ${MAX_SEGMENT_BYTES} bytes`;
  }
  return null;
}

// Reads and checks `icboot/profiles/*.json` and `icboot/groups/*.json` from a
// boot tree. The uploader runs it before sending anything, so a release never
// holds machines a gateway could not serve; the first problem is reported,
// naming the file and the field.
import { UserError } from '../errors.ts';
import { isObject } from '../json.ts';
import { pathError } from '../path.ts';
import { parseJson } from './json_text.ts';
import { RESERVED_PARAMS, normaliseSelectors } from './select.ts';
import { MACHINES_DIR, type Group, type Machines, type Profile, type TreeReader } from './types.ts';

export const PROFILES_DIR = `${MACHINES_DIR}/profiles`;
export const GROUPS_DIR = `${MACHINES_DIR}/groups`;
/** Profiles and groups are small; a bigger file is a mistake, not a configuration. */
export const MAX_MACHINES_FILE_BYTES = 64 * 1024;
/** Larger template files are refused at upload, so a gateway never reads one (and the template engine's parse limit). */
export const MAX_TEMPLATE_BYTES = 256 * 1024;
export const MAX_ARGS_BYTES = 4096;
const MAX_NAME_BYTES = 256;
/** Profile, group and template ids. */
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ID_RULE = '1-64 of A-Z a-z 0-9 . _ -, a letter or digit first';
const CONTROL = /[\u0000-\u001f\u007f]/;
/** Longest quoted value or field in a message, so that it stays one readable line. */
const SHOWN_CHARS = 80;

/** One line a user can act on: `FILE: "FIELD": what is wrong`; no field when the whole file is at fault. */
export class MachinesError extends UserError {
  constructor(readonly file: string, readonly field: string, message: string) {
    super(field === '' ? `${file}: ${message}` : `${file}: ${shown(field)}: ${message}`);
  }
}

/** A string as JSON text (quoted, control characters escaped), cut short when long. */
function shown(s: string): string {
  return JSON.stringify(s.length > SHOWN_CHARS ? `${s.slice(0, SHOWN_CHARS)}...` : s);
}

const utf8Bytes = (s: string): number => new TextEncoder().encode(s).length;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The tree's profiles and groups, checked; null when the tree has neither
 * folder (a plain tree such as the pxelinux sample). Throws MachinesError on
 * the first problem, in file-name order.
 */
export async function loadMachines(tree: TreeReader): Promise<Machines | null> {
  const paths = new Set(tree.paths());
  const under = (dir: string): string[] => [...paths].filter((p) => p.startsWith(`${dir}/`)).sort();
  const profileFiles = under(PROFILES_DIR);
  const groupFiles = under(GROUPS_DIR);
  if (profileFiles.length === 0 && groupFiles.length === 0) return null;

  const profiles = new Map<string, Profile>();
  for (const file of profileFiles) {
    const id = idOf(file, PROFILES_DIR, 'profile');
    profiles.set(id, profile(id, file, await document(tree, file), paths, tree.size));
  }
  const groups: Group[] = [];
  const bySelector = new Map<string, string>();
  for (const file of groupFiles) {
    const g = group(idOf(file, GROUPS_DIR, 'group'), file, await document(tree, file), profiles);
    const key = JSON.stringify(Object.entries(g.selector).sort(([a], [b]) => (a < b ? -1 : 1)));
    const twin = bySelector.get(key);
    if (twin !== undefined) throw new MachinesError(file, 'selector', `same selector as ${twin}, so no machine could tell them apart`);
    bySelector.set(key, file);
    groups.push(g);
  }
  // Profiles that no group names may wait for a group; profiles with no group at all are a tree that forgot its groups.
  if (groups.length === 0) {
    throw new MachinesError(`${GROUPS_DIR}/`, '', 'no group selects any profile; add a group (one without "selector" is the default)');
  }
  return { profiles, groups };
}

/** The id in `DIR/<id>.json`; anything else in the folder is refused. */
function idOf(file: string, dir: string, kind: string): string {
  const name = file.slice(dir.length + 1);
  const id = name.endsWith('.json') ? name.slice(0, -'.json'.length) : '';
  if (name.includes('/') || !ID.test(id)) {
    throw new MachinesError(file, '', `not a ${kind} file: ${dir}/ holds only <id>.json files, the id being ${ID_RULE}`);
  }
  return id;
}

/** The file as a JSON object. */
async function document(tree: TreeReader, file: string): Promise<Record<string, unknown>> {
  const size = tree.size(file);
  if (size > MAX_MACHINES_FILE_BYTES) throw new MachinesError(file, '', `${size} bytes; at most ${MAX_MACHINES_FILE_BYTES}`);
  const bytes = await tree.read(file);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new MachinesError(file, '', 'not valid UTF-8');
  }
  const r = parseJson(text);
  if (!r.ok) throw new MachinesError(file, '', `invalid JSON at line ${r.line}, column ${r.column}: ${r.reason}`);
  if (!isObject(r.value)) throw new MachinesError(file, '', 'must hold a JSON object ({...})');
  return r.value;
}

/** Refuses fields not in `known`, so a misspelt one is not silently ignored. */
function onlyKnown(file: string, doc: Record<string, unknown>, known: string[]): void {
  for (const key of Object.keys(doc)) {
    if (!known.includes(key)) throw new MachinesError(file, key, `unknown field (known: ${known.join(', ')})`);
  }
}

function required(file: string, doc: Record<string, unknown>, field: string): unknown {
  if (!Object.hasOwn(doc, field)) throw new MachinesError(file, field, 'is required');
  return doc[field];
}

function string(file: string, field: string, v: unknown): string {
  if (typeof v !== 'string') throw new MachinesError(file, field, `must be a string, not ${typeName(v)}`);
  return v;
}

function object(file: string, field: string, v: unknown): Record<string, unknown> {
  if (!isObject(v)) throw new MachinesError(file, field, `must be an object ({...}), not ${typeName(v)}`);
  return v;
}

const typeName = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`);

/** A short human description: one line, so it can head a listing or a log line. */
function name(file: string, doc: Record<string, unknown>, fallback: string): string {
  if (!Object.hasOwn(doc, 'name')) return fallback;
  const s = string(file, 'name', doc.name);
  if (CONTROL.test(s)) throw new MachinesError(file, 'name', 'contains a control character');
  if (utf8Bytes(s) > MAX_NAME_BYTES) throw new MachinesError(file, 'name', `longer than ${MAX_NAME_BYTES} bytes`);
  return s;
}

/** A path that the release will hold. */
function treePath(file: string, field: string, v: unknown, paths: Set<string>): string {
  const p = string(file, field, v);
  const err = pathError(p);
  if (err !== null) throw new MachinesError(file, field, `${shown(p)}: ${err}`);
  if (!paths.has(p)) throw new MachinesError(file, field, `${shown(p)} is not in the tree`);
  return p;
}

function profile(id: string, file: string, doc: Record<string, unknown>, paths: Set<string>, size: TreeReader['size']): Profile {
  onlyKnown(file, doc, ['name', 'kernel', 'initrd', 'args', 'templates']);
  const kernel = treePath(file, 'kernel', required(file, doc, 'kernel'), paths);
  let initrds: string[] = [];
  if (Object.hasOwn(doc, 'initrd')) {
    if (!Array.isArray(doc.initrd)) throw new MachinesError(file, 'initrd', `must be an array of paths, not ${typeName(doc.initrd)}`);
    initrds = doc.initrd.map((v, i) => treePath(file, `initrd[${i}]`, v, paths));
  }
  let args = '';
  if (Object.hasOwn(doc, 'args')) {
    args = string(file, 'args', doc.args);
    // A line break would end the kernel line of the rendered script.
    if (CONTROL.test(args)) throw new MachinesError(file, 'args', 'contains a control character (the kernel command line is one line)');
    if (utf8Bytes(args) > MAX_ARGS_BYTES) throw new MachinesError(file, 'args', `longer than ${MAX_ARGS_BYTES} bytes`);
  }
  const templates: [string, string][] = [];
  if (Object.hasOwn(doc, 'templates')) {
    for (const [key, v] of Object.entries(object(file, 'templates', doc.templates))) {
      const field = `templates.${key}`;
      if (!ID.test(key)) throw new MachinesError(file, field, `not a template name (${ID_RULE})`);
      const path = treePath(file, field, v, paths);
      if (size(path) > MAX_TEMPLATE_BYTES) throw new MachinesError(file, field, `${shown(path)} is ${size(path)} bytes; a template is at most ${MAX_TEMPLATE_BYTES}`);
      templates.push([key, path]);
    }
  }
  return { id, name: name(file, doc, id), kernel, initrds, args, templates: Object.fromEntries(templates) };
}

function group(id: string, file: string, doc: Record<string, unknown>, profiles: Map<string, Profile>): Group {
  onlyKnown(file, doc, ['name', 'profile', 'selector', 'metadata']);
  const profileId = string(file, 'profile', required(file, doc, 'profile'));
  if (!profiles.has(profileId)) throw new MachinesError(file, 'profile', `${shown(profileId)} is not a profile (no ${PROFILES_DIR}/${profileId}.json)`);
  const raw: Record<string, string> = {};
  if (Object.hasOwn(doc, 'selector')) {
    for (const [key, v] of Object.entries(object(file, 'selector', doc.selector))) {
      const value = string(file, `selector.${key}`, v);
      // Requests drop empty values (unset iPXE settings), so an empty one here could never match.
      if (value === '') throw new MachinesError(file, `selector.${key}`, 'is empty; remove the key to match any value');
      if (RESERVED_PARAMS.includes(key)) {
        throw new MachinesError(file, `selector.${key}`, `"${key}" is a request parameter, not a selector, so no machine would match; select on "arch" instead`);
      }
      Object.defineProperty(raw, key, { value, enumerable: true });
    }
  }
  const n = normaliseSelectors(raw);
  if (!n.ok) throw new MachinesError(file, `selector.${n.key}`, `${shown(raw[n.key])}: ${n.reason}`);
  const metadata = Object.hasOwn(doc, 'metadata') ? object(file, 'metadata', doc.metadata) : {};
  return { id, name: name(file, doc, id), profile: profileId, selector: n.selectors, metadata };
}

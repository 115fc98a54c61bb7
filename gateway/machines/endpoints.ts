// The gateway's machine endpoints: a request's path and query string → the
// script or template that machine gets, rendered whole from the certified
// release before a byte is sent. Which paths are endpoints, how selectors are
// read from a request, and which status each failure gets live here; the HTTP
// server only sends the reply.
import { BOOT_IPXE_PATH } from '../../common/machines/firmware.ts';
import { RESERVED_PARAMS, archOf, normaliseSelectors, selectGroup } from '../../common/machines/select.ts';
import type { Machines, Selectors } from '../../common/machines/types.ts';
import { IntegrityError, TransientError } from '../../client/errors.ts';
import {
  RenderError, bootIpxe, grubConfig, ipxeScript, noMatchIpxe, renderTemplate, type GatewayAddress, type ReadFile, type RenderContext,
} from './render.ts';
import type { ReleaseMachines } from './index.ts';

/** The longest query string read (iPXE's /boot.ipxe chain sends well under 1 KiB); longer ones get 414. */
export const MAX_QUERY_BYTES = 2048;

/** The files cloud-init's NoCloud datasource fetches from its seed URL, served from the profile's templates of the same names. */
export const NOCLOUD_FILES = ['meta-data', 'user-data', 'vendor-data', 'network-config'] as const;


export type MachineRoute =
  | { endpoint: 'boot.ipxe' | 'ipxe' | 'grub' | 'generic' }
  /** `selectors`: the path segment before the file name (`/cloud-init/<selectors>/meta-data`), if any. */
  | { endpoint: 'cloud-init'; file: string; selectors: string | null };

/**
 * The endpoint a decoded request path names, or null for a tree path. Only
 * these exact paths are endpoints, so every other path (even `/ipxe/x` or
 * `/cloud-init/other`) is still a file of the tree.
 */
export function machineRoute(path: string): MachineRoute | null {
  switch (path) {
    case BOOT_IPXE_PATH: return { endpoint: 'boot.ipxe' };
    case '/ipxe': return { endpoint: 'ipxe' };
    case '/grub': return { endpoint: 'grub' };
    case '/generic': return { endpoint: 'generic' };
  }
  const m = /^\/cloud-init\/(?:([^/]+)\/)?([^/]+)$/.exec(path);
  if (!m || !(NOCLOUD_FILES as readonly string[]).includes(m[2])) return null;
  return { endpoint: 'cloud-init', file: m[2], selectors: m[1] ?? null };
}

export interface Reply {
  status: number;
  body: string;
  /** Why a request was refused or failed, for one log line; absent on success. */
  problem?: string;
  /** For the log line of a success that is not the usual one (a machine no group matches). */
  note?: string;
}

type Parsed<T> = { ok: true; value: T } | { ok: false; reply: Reply };

const refuse = (status: number, message: string): { ok: false; reply: Reply } => ({ ok: false, reply: { status, body: message + '\n', problem: message } });
const givenTwice = (key: string): { ok: false; reply: Reply } => refuse(400, `parameter "${key}" is given more than once`);

/**
 * `key=value` pairs split on `separator`, percent-decoded unless `decoded`
 * already (`+` is a space, as in forms). A key given twice is refused: which
 * of the two a group should see would be a guess.
 */
export function parsePairs(text: string, separator: string, decoded = false): Parsed<Record<string, string>> {
  const pairs = new Map<string, string>();
  for (const part of text.split(separator)) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    let key: string;
    let value: string;
    try {
      const decode = (s: string): string => (decoded ? s : decodeURIComponent(s.replace(/\+/g, ' ')));
      key = decode(eq < 0 ? part : part.slice(0, eq));
      value = eq < 0 ? '' : decode(part.slice(eq + 1));
    } catch {
      return refuse(400, 'bad percent-encoding in the query string');
    }
    if (pairs.has(key)) return givenTwice(key);
    pairs.set(key, value);
  }
  return { ok: true, value: Object.fromEntries(pairs) };
}

/**
 * The machine's selectors from request parameters: `buildarch` and
 * `platform` (iPXE's names) become `arch` unless `arch` is given itself;
 * everything else is a selector, checked and put in normal form.
 */
export function requestSelectors(params: Record<string, string>): Parsed<Selectors> {
  // Built from entries, so a key like __proto__ reaches normaliseSelectors (and is refused) instead of vanishing.
  const raw = Object.fromEntries(Object.entries(params).filter(([key]) => !RESERVED_PARAMS.includes(key)));
  if (!raw.arch) {
    const arch = archOf(params.buildarch, params.platform);
    if (arch) Object.defineProperty(raw, 'arch', { value: arch, enumerable: true });
  }
  const n = normaliseSelectors(raw);
  if (!n.ok) return refuse(400, `selector "${n.key}": ${n.reason}`);
  return { ok: true, value: n.selectors };
}

/** How selectors read in a message: `mac=52:54:00:12:34:56 arch=bios`, or `no selectors`. */
export function describeSelectors(s: Selectors): string {
  const pairs = Object.entries(s).map(([k, v]) => `${k}=${v}`);
  return pairs.length ? pairs.join(' ') : 'no selectors';
}

/** Why a machine matched no group: there is no default group, and none of the others fits it. */
export const noMatchReason = (s: Selectors): string => `no group matches ${describeSelectors(s)}, and this release has no default group`;

/** What a machine gets from /ipxe: its group and profile and their script, or, matching nothing, a script that says why. */
export async function machineIpxe(machines: Machines, read: ReadFile, selectors: Selectors, gateway: GatewayAddress)
  : Promise<{ context: RenderContext | null; script: string }> {
  const match = selectGroup(machines, selectors);
  if (!match) return { context: null, script: noMatchIpxe(noMatchReason(selectors)) };
  const context: RenderContext = { selectors, ...match, gateway };
  return { context, script: await ipxeScript(context, read) };
}

/** A RenderError's status: a template the profile does not have is the client's miss, anything else the release's fault. */
function renderFailure(e: unknown): Reply {
  if (e instanceof RenderError) {
    const message = `cannot render: ${e.message}`;
    return { status: e.kind === 'unknown-template' ? 404 : 500, body: message + '\n', problem: message };
  }
  // Reading the release failed (canister unreachable, or bytes that did not verify): try again later. Anything else is a bug, for the server's internal-error handler.
  if (!(e instanceof TransientError || e instanceof IntegrityError)) throw e;
  const message = `cannot read the release's files now: ${e.message}`;
  return { status: 503, body: message + '\n', problem: message };
}

/**
 * The reply to a machine endpoint, or null when the release has no machines
 * and its tree holds a file at that path (served as a file instead).
 */
export async function machineReply(
  route: MachineRoute, path: string, query: string, gateway: GatewayAddress, machines: ReleaseMachines, hasFile: (path: string) => boolean,
): Promise<Reply | null> {
  if (Buffer.byteLength(query) > MAX_QUERY_BYTES) return refuse(414, `query string longer than ${MAX_QUERY_BYTES} bytes`).reply;
  let state;
  try {
    state = await machines.current();
  } catch (e) {
    return renderFailure(e);
  }
  if (state.kind === 'none') return hasFile(path.slice(1)) ? null : refuse(404, 'this release has no icboot/ profiles').reply;
  if (state.kind === 'invalid') return refuse(500, `release ${state.release}: ${state.error.message}`).reply;
  if (route.endpoint === 'boot.ipxe') return { status: 200, body: bootIpxe(gateway) };

  const params = parsePairs(query, '&');
  if (!params.ok) return params.reply;
  let all = params.value;
  if (route.endpoint === 'cloud-init' && route.selectors !== null) {
    // The seed URL cannot carry a query (cloud-init appends the file name), so its selectors are a path
    // segment (decoded with the path): a MAC alone, or key=value pairs joined by ',' (no selector value holds ',' or '=').
    const inPath = route.selectors.includes('=') ? parsePairs(route.selectors, ',', true) : { ok: true as const, value: { mac: route.selectors } };
    if (!inPath.ok) return inPath.reply;
    const twice = Object.keys(inPath.value).find((k) => Object.hasOwn(all, k));
    if (twice) return givenTwice(twice).reply;
    all = { ...inPath.value, ...all };
  }
  const generic = route.endpoint === 'generic';
  if (generic && !all.template) return refuse(400, '/generic needs template=NAME').reply;
  const selectors = requestSelectors(all);
  if (!selectors.ok) return selectors.reply;

  const { machines: m, read } = state;
  try {
    if (route.endpoint === 'ipxe') {
      const { context, script } = await machineIpxe(m, read, selectors.value, gateway);
      return { status: 200, body: script, note: context ? undefined : noMatchReason(selectors.value) };
    }
    const match = selectGroup(m, selectors.value);
    if (!match) return refuse(404, noMatchReason(selectors.value)).reply;
    const context: RenderContext = { selectors: selectors.value, ...match, gateway };
    if (route.endpoint === 'grub') return { status: 200, body: await grubConfig(context, read) };
    return { status: 200, body: await renderTemplate(context, route.endpoint === 'cloud-init' ? route.file : all.template, read) };
  } catch (e) {
    return renderFailure(e);
  }
}

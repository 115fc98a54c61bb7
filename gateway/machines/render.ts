// What a machine receives: its iPXE script, GRUB config or profile template,
// rendered whole from the certified release and its request's selectors.
// Pure: files come only through the `read` callback, and the template engine
// has no file system (see docs/templates.md for what templates see and why
// liquidjs).
import { Liquid } from 'liquidjs';
import { UserError } from '../../common/errors.ts';
import { MAX_TEMPLATE_BYTES } from '../../common/machines/parse.ts';
import type { Group, Profile, Selectors } from '../../common/machines/types.ts';

/** Where machines reach this gateway; templates see it as `gateway`. */
export interface GatewayAddress {
  /** Base URL of the HTTP server, e.g. `http://192.168.122.1:8080`. */
  http: string;
  /** `host:port` of the TFTP server. */
  tftp: string;
}

export interface RenderContext {
  selectors: Selectors;
  group: Group;
  profile: Profile;
  gateway: GatewayAddress;
}

/**
 * A file of the release by tree path; null when the release has no such file.
 * Only templates are read: the kernel and initrds are named in URLs, never
 * fetched here (loading the machines has checked that they are in the tree).
 */
export type ReadFile = (path: string) => Promise<Uint8Array | null>;

export type RenderErrorKind = 'template' | 'missing-file' | 'unknown-template';

/**
 * Why nothing was rendered: `template` (the release's template or kernel
 * arguments are wrong), `missing-file` (a file the profile names is not in
 * the release), `unknown-template` (the profile has no template of that name).
 */
export class RenderError extends UserError {
  constructor(readonly kind: RenderErrorKind, message: string) {
    super(message);
  }
}

/** Larger rendered output is refused: nothing a machine fetches at boot needs more. */
export const MAX_OUTPUT_CHARS = 1024 * 1024;
/** Wall-clock limit of one render, in ms: a real template takes well under 1 ms; this stops a runaway loop. */
export const RENDER_LIMIT_MS = 50;
/** The engine's allocation budget (characters and array elements) for one render. */
export const MEMORY_LIMIT = 16 * 1024 * 1024;

const engine = new Liquid({
  // An undefined variable or filter is an error, not an empty string in the middle of a script.
  strictVariables: true,
  strictFilters: true,
  // `{% if metadata.x %}` stays usable for optional values.
  lenientIf: true,
  ownPropertyOnly: true,
  // An empty in-memory template map: include, render and layout find nothing, and no file is opened.
  templates: {},
  // Upload refuses larger template files; this also bounds the kernel arguments' template.
  parseLimit: MAX_TEMPLATE_BYTES,
  renderLimit: RENDER_LIMIT_MS,
  memoryLimit: MEMORY_LIMIT,
});
// A rendered script is a function of certified bytes and the request: "now" would make two gateways (or two
// boots) answer differently, so the clock is not a template's input.
engine.registerFilter('date', () => {
  throw new Error('the date filter is not available: a rendered file depends only on the release and the request');
});

/** `source` is named in messages, e.g. the template's tree path. */
async function render(source: string, text: string, data: object): Promise<string> {
  if (Buffer.byteLength(text) > MAX_TEMPLATE_BYTES) throw new RenderError('template', `${source}: template longer than ${MAX_TEMPLATE_BYTES} bytes`);
  let out: string;
  try {
    out = await engine.parseAndRender(text, data);
  } catch (e) {
    // Anything the engine throws (syntax, unknown variable, a limit, a stack overflow) is the template's fault.
    const reason = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    throw new RenderError('template', `${source}: ${reason}`);
  }
  if (out.length > MAX_OUTPUT_CHARS) throw new RenderError('template', `${source}: output longer than ${MAX_OUTPUT_CHARS} characters`);
  return out;
}

/** A tree path as a URL path: every segment percent-encoded, RFC 3986 unreserved characters only. */
function urlPath(path: string): string {
  return path.split('/').map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())).join('/');
}

const base = (gateway: GatewayAddress): string => gateway.http.replace(/\/+$/, '');
const fileUrl = (gateway: GatewayAddress, path: string): string => `${base(gateway)}/${urlPath(path)}`;

/** What every template (and the kernel arguments) sees. */
function templateData(c: RenderContext): object {
  return {
    selectors: { ...c.selectors },
    metadata: c.group.metadata,
    group: { id: c.group.id, name: c.group.name },
    profile: { id: c.profile.id, name: c.profile.name },
    gateway: { http: c.gateway.http, tftp: c.gateway.tftp },
    kernel: fileUrl(c.gateway, c.profile.kernel),
    initrds: c.profile.initrds.map((p) => fileUrl(c.gateway, p)),
  };
}

const argsSource = (p: Profile): string => `icboot/profiles/${p.id}.json "args"`;

/**
 * The profile's kernel arguments, rendered and split into words. Any
 * whitespace (newlines too) only separates words, so an arguments template
 * may span lines and can never start another script command.
 */
async function kernelArgs(c: RenderContext): Promise<string[]> {
  const text = await render(argsSource(c.profile), c.profile.args, templateData(c));
  // Other control characters have no meaning on a kernel command line and would show up garbled on a console.
  if (/[\u0000-\u0008\u000e-\u001f\u007f]/.test(text)) throw new RenderError('template', `${argsSource(c.profile)}: contains a control character`);
  return text.split(/\s+/).filter((w) => w !== '');
}

/**
 * Why iPXE would not pass `word` to the kernel literally, or null: it expands
 * `${...}` in every word, and a word starting with `#` or equal to `||`, `&&`
 * or `;` ends the command (iPXE has no quoting to escape them).
 */
function ipxeWordError(word: string): string | null {
  if (word.includes('${')) return 'contains "${", which iPXE would expand as a setting';
  // A line ending in a backslash continues on the next one: the initrd line (or boot) would become kernel arguments.
  if (word.includes('\\')) return 'contains a backslash, which iPXE reads as a line continuation';
  if (word.startsWith('#')) return 'has a word starting with "#", which iPXE reads as a comment';
  if (word === '||' || word === '&&' || word === ';') return `has the word "${word}", which iPXE reads as an operator`;
  return null;
}

/**
 * The profile's iPXE script: kernel, initrds and arguments over HTTP from
 * this gateway. Each initrd gets a name and an `initrd=NAME` argument: the
 * Linux EFI stub loads its initrds by those names from iPXE's virtual file
 * system (iPXE before 2023, Debian 12's included, has no LoadFile2 initrd),
 * and a BIOS kernel ignores the argument.
 */
export async function ipxeScript(c: RenderContext, _read: ReadFile): Promise<string> {
  const args = await kernelArgs(c);
  for (const w of args) {
    const error = ipxeWordError(w);
    if (error) throw new RenderError('template', `${argsSource(c.profile)}: ${error}`);
  }
  const names = c.profile.initrds.map((_, i) => `initrd${i}`);
  return [
    '#!ipxe',
    ['kernel', fileUrl(c.gateway, c.profile.kernel), ...names.map((n) => `initrd=${n}`), ...args].join(' '),
    ...c.profile.initrds.map((p, i) => `initrd --name ${names[i]} ${fileUrl(c.gateway, p)}`),
    'boot',
    '',
  ].join('\n');
}

/** A word for GRUB's script: single quotes keep everything literal, `'` itself is closed, escaped and reopened. */
const grubQuote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

/**
 * The profile as a GRUB config for GRUB's http module: files are read as
 * `(http,HOST:PORT)/path` from this gateway, arguments quoted word by word
 * so GRUB passes them to the kernel as written.
 */
export async function grubConfig(c: RenderContext, _read: ReadFile): Promise<string> {
  const url = new URL(base(c.gateway));
  const file = (path: string): string => `(http,${url.host})${url.pathname.replace(/\/+$/, '')}/${urlPath(path)}`;
  const args = await kernelArgs(c);
  return [
    ['linux', file(c.profile.kernel), ...args.map(grubQuote)].join(' '),
    ...(c.profile.initrds.length > 0 ? [['initrd', ...c.profile.initrds.map(file)].join(' ')] : []),
    'boot',
    '',
  ].join('\n');
}

/**
 * The profile's template `name`, rendered. Output is not escaped: it is YAML,
 * a preseed or plain text, whose author quotes values (e.g. `| json`).
 */
export async function renderTemplate(c: RenderContext, name: string, read: ReadFile): Promise<string> {
  if (!Object.hasOwn(c.profile.templates, name)) {
    throw new RenderError('unknown-template', `profile ${JSON.stringify(c.profile.id)} has no template ${JSON.stringify(name)}`);
  }
  const path = c.profile.templates[name];
  const bytes = await read(path);
  if (bytes === null) {
    throw new RenderError('missing-file', `${path}: not in the release (template ${JSON.stringify(name)} of profile ${JSON.stringify(c.profile.id)})`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new RenderError('template', `${path}: not UTF-8 text`);
  }
  return render(path, text, templateData(c));
}

/**
 * The one script every iPXE client starts with: it asks `/ipxe` for its own
 * script, naming itself by iPXE's settings. MAC and UUID are hex and hyphens,
 * buildarch and platform plain words; hostname and serial are percent-encoded
 * by iPXE (`:uristring`). A setting the machine lacks expands to '' (the
 * gateway ignores empty values). If the fetch fails (gateway down, no
 * release, a 500) it says so and tries again every 10 s: one request, not a
 * DHCP/PXE loop through the firmware.
 */
export function bootIpxe(gateway: GatewayAddress): string {
  const query = [
    'mac=${mac:hexhyp}',
    'uuid=${uuid}',
    'buildarch=${buildarch}',
    'platform=${platform}',
    'hostname=${hostname:uristring}',
    'serial=${serial:uristring}',
  ].join('&');
  return [
    '#!ipxe',
    ':icboot',
    `chain ${base(gateway)}/ipxe?${query} || goto icboot_failed`,
    'exit',
    ':icboot_failed',
    `echo icboot: could not get the script for this machine from ${base(gateway)}/ipxe (the gateway log says why), trying again in 10 s`,
    'sleep 10',
    'goto icboot',
    '',
  ].join('\n');
}

/**
 * What a machine that matches no group gets: the reason on its console, then
 * iPXE's shell. It stops there rather than `exit` back to the firmware, whose
 * next boot entry is often PXE again: a rack would loop through DHCP, and the
 * reason would scroll away from an operator watching a serial console. From
 * the shell the operator can inspect `${mac}` and re-`chain` once the
 * release has a group for it.
 */
export function noMatchIpxe(reason: string): string {
  return [
    '#!ipxe',
    `echo icboot: no boot profile for this machine: ${echoText(reason)}`,
    'echo icboot: add a group for it (or a default group) to the release, then reboot it. Stopping here.',
    'shell',
    '',
  ].join('\n');
}

/** Text an iPXE `echo` prints as is: characters iPXE would read as a setting, comment or operator become '?'. */
function echoText(text: string): string {
  return text.replace(/[^A-Za-z0-9 .,:=/_@+()%*!?[\]-]/g, '?').slice(0, 400);
}

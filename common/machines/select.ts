// Which group a machine gets. Group selectors (at load) and request selectors
// (in the gateway) pass through the same normalisation, so a plain string
// comparison decides whether they match.
import { ARCHES, type Arch, type Group, type Machines, type Profile, type Selectors } from './types.ts';

const MAC = /^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** DHCP clients send names with '_' (my_host) although DNS forbids it: they must still get a script. */
const HOST_LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/i;
/** Firmware fills serials with free text ("To be filled by O.E.M."): inner spaces are allowed, nothing that templates or iPXE read as syntax. */
const SERIAL = /^[A-Za-z0-9._-](?:[A-Za-z0-9 ._-]{0,62}[A-Za-z0-9._-])?$/;
const OTHER_KEY = /^[a-z][a-z0-9_]{0,31}$/;

/**
 * Request parameters that are not selectors: iPXE's `buildarch` and
 * `platform` (they make `arch`) and /generic's `template`. A group cannot
 * select on them, since no request ever carries them as selectors.
 */
export const RESERVED_PARAMS: readonly string[] = ['buildarch', 'platform', 'template'];
const OTHER_VALUE = /^[A-Za-z0-9._:-]{0,128}$/;
const MAX_HOSTNAME = 253;

type Normalised = { ok: true; value: string } | { ok: false; reason: string };

const ok = (value: string): Normalised => ({ ok: true, value });
const bad = (reason: string): Normalised => ({ ok: false, reason });

/** One key's value in normal form, or why it is refused. */
function normalise(key: string, value: string): Normalised {
  switch (key) {
    case 'mac':
      return MAC.test(value) ? ok(value.toLowerCase().replaceAll('-', ':')) : bad('not a MAC address (aa:bb:cc:dd:ee:ff)');
    case 'uuid':
      return UUID.test(value) ? ok(value.toLowerCase()) : bad('not a UUID (8-4-4-4-12 hex digits)');
    case 'hostname':
      // DNS names compare without case, so the normal form is lower-case.
      return value.length <= MAX_HOSTNAME && value.split('.').every((l) => HOST_LABEL.test(l))
        ? ok(value.toLowerCase())
        : bad(`not a host name (letters, digits, '-', '_' in dot-separated labels of 1-63, at most ${MAX_HOSTNAME} characters)`);
    case 'serial':
      // Firmware pads serials with spaces; the trimmed value is the serial.
      return SERIAL.test(value.trim()) ? ok(value.trim()) : bad('not a serial number (1-64 of A-Z a-z 0-9 . _ - and inner spaces)');
    case 'arch':
      return (ARCHES as readonly string[]).includes(value) ? ok(value) : bad(`not an architecture (one of ${ARCHES.join(', ')})`);
    default:
      if (!OTHER_KEY.test(key)) return bad('the key must be a-z first, then a-z 0-9 _, at most 32 characters');
      return OTHER_VALUE.test(value) ? ok(value) : bad('not a selector value (at most 128 of A-Z a-z 0-9 . _ : -)');
  }
}

/**
 * Checks selectors and puts them in normal form: mac lower-case with ':',
 * uuid and hostname lower-case. An empty value counts as absent, because iPXE
 * expands a setting the machine does not have (often `${serial}`) to ''.
 */
export function normaliseSelectors(raw: Record<string, string>): { ok: true; selectors: Selectors } | { ok: false; key: string; reason: string } {
  const entries: [string, string][] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (value === '') continue;
    const n = normalise(key, value);
    if (!n.ok) return { ok: false, key, reason: n.reason };
    entries.push([key, n.value]);
  }
  // fromEntries defines own properties, so no key can reach a prototype.
  return { ok: true, selectors: Object.fromEntries(entries) };
}

/**
 * The firmware family from iPXE's `${buildarch}` and `${platform}`; null for
 * combinations icboot has no profiles for (32-bit EFI, 32-bit ARM, or unknown).
 */
export function archOf(buildarch: string | undefined, platform: string | undefined): Arch | null {
  if (platform === 'pcbios' && (buildarch === 'i386' || buildarch === 'x86_64')) return 'bios';
  if (platform === 'efi' && buildarch === 'x86_64') return 'efi-x86_64';
  if (platform === 'efi' && buildarch === 'arm64') return 'efi-arm64';
  return null;
}

const specificity = (g: Group): number => Object.keys(g.selector).length;

/**
 * The order in which groups are preferred: more selector keys first, then by
 * id in code-point order (not locale order, so every gateway agrees).
 */
export function compareGroups(a: Group, b: Group): number {
  return specificity(b) - specificity(a) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

const matches = (g: Group, s: Selectors): boolean => Object.entries(g.selector).every(([k, v]) => Object.hasOwn(s, k) && s[k] === v);

/**
 * The group a machine gets: of the groups whose every selector equals the
 * machine's, the most specific, ties to the lowest id; the default group (no
 * selector) matches every machine. Null when none matches. The groups' order
 * does not matter.
 */
export function selectGroup(m: Machines, s: Selectors): { group: Group; profile: Profile } | null {
  let best: Group | null = null;
  for (const g of m.groups) if (matches(g, s) && (best === null || compareGroups(g, best) < 0)) best = g;
  if (best === null) return null;
  const profile = m.profiles.get(best.profile);
  // loadMachines refuses a group naming a missing profile; only a hand-built Machines gets here.
  if (!profile) throw new Error(`group ${best.id} names profile ${best.profile}, which does not exist`);
  return { group: best, profile };
}

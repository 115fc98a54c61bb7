// `icboot machines [DIR]`: which group and profile a machine would get, and
// the iPXE script (GRUB config, for arm64) it would receive from the gateway, worked out from a
// local tree (checked as `icboot upload` checks it) or from the canister's
// certified release (read as `icboot cat` reads it).
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { CommonOptions } from '../../client/canister.ts';
import { UserError } from '../../client/errors.ts';
import { retry } from '../../client/retry.ts';
import { loadMachines } from '../../common/machines/parse.ts';
import { selectGroup } from '../../common/machines/select.ts';
import type { Group, Profile, TreeReader } from '../../common/machines/types.ts';
import { describeSelectors, machineIpxe, requestSelectors } from '../../gateway/machines/endpoints.ts';
import { fileReader, manifestTree } from '../../gateway/machines/index.ts';
import { grubConfig, type GatewayAddress } from '../../gateway/machines/render.ts';
import { localTree } from '../../uploader/tree.ts';
import { canisterCommand, open, releaseManifest } from '../canister_command.ts';
import { releaseId } from '../flags.ts';
import { example } from '../help.ts';
import { jsonOption, origin, printJson } from '../json.ts';

interface MachinesFlags extends CommonOptions {
  release?: number;
  mac?: string; uuid?: string; hostname?: string; serial?: string; arch?: string;
  selector: [string, string][];
  gatewayHttp: GatewayAddress;
  json?: boolean;
}

/** Where templates think the gateway is, when no --gateway-http is given: a placeholder that reads as one. */
const PLACEHOLDER_GATEWAY: GatewayAddress = { http: 'http://GATEWAY', tftp: 'GATEWAY:69' };

function gatewayHttp(value: string): GatewayAddress {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('must be a URL such as http://192.168.122.1:8080');
  }
  if (url.protocol !== 'http:' || url.pathname !== '/' || url.search || url.username) {
    throw new InvalidArgumentError('must be http://HOST[:PORT], the gateway\'s --http address');
  }
  // The gateway's TFTP port, which templates also see, is not in the URL: assume the standard one.
  return { http: `http://${url.host}`, tftp: `${url.hostname}:69` };
}

function keyValue(value: string, previous: [string, string][]): [string, string][] {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('must be KEY=VALUE');
  return [...previous, [value.slice(0, eq), value.slice(eq + 1)]];
}

/** `id (name)`, or the id alone when the file gave no name of its own. */
const titled = (x: { id: string; name: string }): string => (x.name === x.id ? x.id : `${x.id} (${x.name})`);

/** The selectors the flags give, in the normal form the gateway compares them in. */
function flagSelectors(o: MachinesFlags): Record<string, string> {
  const raw = new Map<string, string>();
  const named: [string, string | undefined][] = [['mac', o.mac], ['uuid', o.uuid], ['hostname', o.hostname], ['serial', o.serial], ['arch', o.arch]];
  for (const [key, value] of [...named, ...o.selector]) {
    if (value === undefined) continue;
    if (raw.has(key)) throw new UserError(`selector "${key}" is given more than once`);
    raw.set(key, value);
  }
  // The gateway's rule, so --selector platform=efi means here what it means in a request.
  const n = requestSelectors(Object.fromEntries(raw));
  if (!n.ok) throw new UserError(n.reply.problem ?? n.reply.body.trim());
  return n.value;
}

/** The tree to read: DIR, or the certified release (current or --release). */
async function tree(dir: string | undefined, o: MachinesFlags): Promise<{ tree: TreeReader; what: string; source: Source }> {
  if (dir !== undefined) {
    if (o.release !== undefined) throw new UserError('--release names a release in the canister; it cannot be used with DIR');
    return { tree: localTree(dir), what: dir, source: { network: null, host: null, canister: null, release: null, dir } };
  }
  const { c, id, reader } = await open(o);
  const m = await releaseManifest(reader, o.release);
  const source = { ...origin(c, id), release: m.id, dir: null };
  return { tree: manifestTree(m, (hash) => retry(() => reader.chunk(hash))), what: `release ${m.id}`, source };
}

/** What a machine gets: the group and profile chosen (none when no group matches) and what it is sent. */
/** Where the tree came from: a canister's release, or a local DIR (the other fields null). */
interface Source {
  network: string | null;
  host: string | null;
  canister: string | null;
  release: number | null;
  dir: string | null;
}

interface Answer {
  source: Source;
  selectors: Record<string, string>;
  chosen: { group: Group; profile: Profile } | null;
  /** /grub for arm64 machines, /ipxe for the others. */
  endpoint: 'ipxe' | 'grub';
  /** null: /grub answers 404 (no group matches). */
  script: string | null;
}

async function answer(dir: string | undefined, o: MachinesFlags): Promise<Answer> {
  const selectors = flagSelectors(o);
  const { tree: t, what, source } = await tree(dir, o);
  const machines = await loadMachines(t);
  if (!machines) throw new UserError(`${what} has no icboot/profiles/ or icboot/groups/`);
  const read = fileReader(t);
  // arm64 machines boot through GRUB (Debian has no iPXE for them): show what /grub gives them instead.
  if (selectors.arch === 'efi-arm64') {
    const match = selectGroup(machines, selectors);
    const script = match ? await grubConfig({ selectors, ...match, gateway: o.gatewayHttp }, read) : null;
    return { source, selectors, chosen: match, endpoint: 'grub', script };
  }
  const { context, script } = await machineIpxe(machines, read, selectors, o.gatewayHttp);
  return { source, selectors, chosen: context ?? null, endpoint: 'ipxe', script };
}

function answerText(a: Answer): string {
  const lines = [`machine: ${describeSelectors(a.selectors)}`];
  if (a.chosen) {
    const { group, profile } = a.chosen;
    const selector = Object.keys(group.selector).length ? `selects ${describeSelectors(group.selector)}` : 'the default group';
    lines.push(`group: ${titled(group)}, ${selector}`, `profile: ${titled(profile)}`);
  } else {
    lines.push(a.endpoint === 'grub' ? 'group: none matches; /grub answers 404 with the reason' : 'group: none matches; the machine gets a script that says so and stops');
  }
  if (a.script !== null) lines.push(a.endpoint === 'grub' ? 'GRUB config from /grub:' : 'iPXE script from /ipxe:', a.script.replace(/\n$/, ''));
  return `${lines.join('\n')}\n`;
}

/** The `machines --json` document (docs/cli.md). */
function answerJson(a: Answer): object {
  const { group, profile } = a.chosen ?? {};
  return {
    ...a.source,
    selectors: a.selectors,
    group: group ? { id: group.id, name: group.name, selector: group.selector } : null,
    profile: profile ? { id: profile.id, name: profile.name } : null,
    endpoint: a.endpoint,
    script: a.script,
  };
}

export function register(program: Command): void {
  const command = canisterCommand(program, 'machines', 'show which group and profile a machine gets, and the iPXE script (arm64: GRUB config) it receives')
    .argument('[dir]', 'a local boot tree (default: the canister\'s certified release)')
    .option('--release <n>', 'release id, without DIR (default: current)', releaseId)
    .option('--mac <mac>', 'the machine\'s MAC address')
    .option('--uuid <uuid>', 'its SMBIOS UUID')
    .option('--hostname <name>', 'its host name')
    .option('--serial <serial>', 'its serial number')
    .option('--arch <arch>', 'its firmware: bios, efi-x86_64 or efi-arm64')
    .addOption(new Option('--selector <key=value>', 'any other selector (repeatable)').argParser(keyValue).default([], 'none'))
    .addOption(new Option('--gateway-http <url>', 'the gateway address templates see').argParser(gatewayHttp).default(PLACEHOLDER_GATEWAY, 'a placeholder, http://GATEWAY'))
    .addOption(jsonOption())
    .action(async (dir: string | undefined, o: MachinesFlags) => {
      const a = await answer(dir, o);
      if (o.json) printJson(answerJson(a));
      else process.stdout.write(answerText(a));
    });
  example(command, 'icboot machines ./debian-tree --mac 52:54:00:12:34:56 --gateway-http http://192.168.122.1:8080');
}

// `icboot libvirt-network`: plan the edit of one libvirt network, apply it
// (keeping the original for --revert), or revert it. A failure at any step
// leaves the network as it was.
import { createTwoFilesPatch } from 'diff';
import { UserError } from '../common/errors.ts';
import { canonical, editNetwork, networkUuid, newNetwork, withoutBootSettings } from './network_xml.ts';
import type { SavedNetworks } from './saved.ts';
import type { Virsh } from './virsh.ts';

export interface NetworkRequest {
  name: string;
  bootfile: string;
  /** Default: the network's own IPv4 address (192.168.122.1 for a new `default`). */
  gatewayIp?: string;
  /** Define the network when it does not exist (and only then). */
  create: boolean;
}

export interface Plan {
  name: string;
  /** False when --create will define the network. */
  exists: boolean;
  active: boolean;
  /** The definition before, or null for a network that does not exist yet. */
  original: string | null;
  /** The definition icboot gives it. */
  xml: string;
  changed: boolean;
  /** A unified diff of the definition, one line of context. */
  diff: string;
  notes: string[];
  gatewayIp: string;
}

/** The default network libvirt's packages ship is on 192.168.122.0/24; a new one elsewhere needs an address. */
const STOCK_DEFAULT_IP = '192.168.122.1';

function shortDiff(name: string, before: string, after: string): string {
  return createTwoFilesPatch(`${name} (libvirt now)`, `${name} (after icboot)`, before, after, undefined, undefined, { context: 1 })
    .split('\n').filter((l) => !/^={5,}$/.test(l)).join('\n');
}

export async function plan(virsh: Virsh, req: NetworkRequest): Promise<Plan> {
  await virsh.check();
  const all = await virsh.networks('all');
  if (!all.includes(req.name)) {
    if (!req.create) {
      throw new UserError(`unknown libvirt network "${req.name}" at ${virsh.uri} (networks: ${all.join(', ') || 'none'}); `
        + 'pick one with --name, or add --create to define it');
    }
    const gatewayIp = req.gatewayIp ?? (req.name === 'default' ? STOCK_DEFAULT_IP : undefined);
    if (!gatewayIp) throw new UserError(`--create of network "${req.name}" needs --gateway-ip, the bridge address of the new network (e.g. 192.168.123.1)`);
    const xml = newNetwork(req.name, gatewayIp, req.bootfile);
    return { name: req.name, exists: false, active: false, original: null, xml, changed: true, diff: shortDiff(req.name, '', xml), notes: [], gatewayIp };
  }
  if (!(await virsh.networks('persistent')).includes(req.name)) {
    throw new UserError(`network ${req.name} is transient (it has no definition to edit); make it persistent first: virsh net-dumpxml ${req.name} > FILE; virsh net-define FILE`);
  }
  const original = await virsh.definition(req.name);
  const edit = editNetwork(original, { bootfile: req.bootfile, gatewayIp: req.gatewayIp });
  return {
    name: req.name, exists: true, active: (await virsh.networks('active')).includes(req.name), original, xml: edit.after,
    changed: edit.changed, diff: edit.changed ? shortDiff(req.name, edit.before, edit.after) : '', notes: edit.notes, gatewayIp: edit.gatewayIp,
  };
}

/** Makes the network what `plan` showed; says what it did through `log`. */
export async function apply(virsh: Virsh, saved: SavedNetworks, p: Plan, log: (line: string) => void): Promise<void> {
  const autostart = `autostart unchanged (virsh net-autostart ${p.name} starts it at boot)`;
  if (!p.changed) {
    log(`network ${p.name} already sends PXE clients to ${p.gatewayIp}; nothing changed`);
    return;
  }
  if (!p.exists) {
    await virsh.define(p.xml);
    try {
      saved.put(p.name, { kind: 'created', uuid: networkUuid(await virsh.definition(p.name)) ?? '' });
      await virsh.run('net-start', p.name);
    } catch (e) {
      await virsh.run('net-undefine', p.name).catch(() => {});
      saved.forget(p.name);
      throw e;
    }
    log(`defined and started network ${p.name}; ${autostart}`);
    return;
  }
  const original = p.original!;
  const kept = saved.get(p.name);
  // Keep the definition from before icboot's first edit; a later --apply (another --bootfile) must not overwrite it.
  const saveNow = kept === null || (kept.kind === 'edited' && networkUuid(kept.original) !== networkUuid(original));
  if (saveNow) saved.put(p.name, { kind: 'edited', original });
  try {
    await virsh.define(p.xml);
  } catch (e) {
    if (saveNow) saved.forget(p.name);
    throw new UserError(`${(e as Error).message}; network ${p.name} is unchanged`);
  }
  if (p.active) {
    try {
      await restart(virsh, p.name);
    } catch (e) {
      // Put back the definition that worked and the network's running state.
      await virsh.define(original);
      if (!(await virsh.networks('active')).includes(p.name)) await virsh.run('net-start', p.name);
      if (saveNow) saved.forget(p.name);
      throw new UserError(`${(e as Error).message}; network ${p.name} is back to its previous definition`);
    }
  }
  log(`network ${p.name} now sends PXE clients to ${p.gatewayIp}${p.active ? ', restarted' : ' (not running: it takes effect when it starts)'}; `
    + `${autostart}; the original is kept for --revert in ${saved.originalFile(p.name)}`);
}

async function restart(virsh: Virsh, name: string): Promise<void> {
  await virsh.run('net-destroy', name);
  await virsh.run('net-start', name);
}

/** Undoes icboot's edit (or creation) of the network, if nothing else changed it since. */
export async function revert(virsh: Virsh, saved: SavedNetworks, name: string, log: (line: string) => void): Promise<void> {
  const kept = saved.get(name);
  if (!kept) throw new UserError(`nothing to revert: icboot has no saved definition of network ${name} (--apply saves one when it first edits a network)`);
  await virsh.check();
  const exists = (await virsh.networks('all')).includes(name);
  if (kept.kind === 'created') {
    if (exists) {
      const uuid = networkUuid(await virsh.definition(name));
      if (uuid !== kept.uuid) throw new UserError(`network ${name} is not the one icboot created (uuid ${uuid}, icboot's was ${kept.uuid}); left as it is`);
      if ((await virsh.networks('active')).includes(name)) await virsh.run('net-destroy', name);
      await virsh.run('net-undefine', name);
    }
    saved.forget(name);
    log(exists ? `network ${name}, which icboot created, is removed` : `network ${name}, which icboot created, is already gone`);
    return;
  }
  const file = saved.originalFile(name);
  if (!exists) throw new UserError(`network ${name} no longer exists; its original definition is in ${file} (virsh net-define ${file})`);
  const current = await virsh.definition(name);
  if (networkUuid(current) !== networkUuid(kept.original)) {
    throw new UserError(`network ${name} now has uuid ${networkUuid(current)}, not the saved ${networkUuid(kept.original)}: it is another network; `
      + `left as it is, and the saved definition stays in ${file}`);
  }
  if (withoutBootSettings(current) !== withoutBootSettings(kept.original)) {
    throw new UserError(`network ${name} was changed since icboot edited it (not only <bootp>/<tftp>); restoring the saved definition would undo that, so icboot left it; `
      + `compare with ${file} and restore by hand (virsh net-define ${file})`);
  }
  const active = (await virsh.networks('active')).includes(name);
  if (canonical(current) !== canonical(kept.original)) {
    await virsh.define(kept.original);
    if (active) await restart(virsh, name);
  }
  saved.forget(name);
  log(`network ${name} is back to its definition from before icboot${active ? ', restarted' : ''}`);
}

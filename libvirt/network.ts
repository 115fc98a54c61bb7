// `icboot libvirt-network`: plan the edit of one libvirt network, apply it
// (keeping the original for --revert), or revert it. A failure at any step
// leaves the network as it was.
import { createTwoFilesPatch } from 'diff';
import { UserError } from '../common/errors.ts';
import { bootSettings, canonical, editNetwork, networkConnections, networkUuid, newNetwork, withoutBootSettings, type BootTarget } from './network_xml.ts';
import type { SavedNetworks } from './saved.ts';
import { VirshError, type Virsh } from './virsh.ts';

export interface NetworkRequest extends BootTarget {
  name: string;
  /** Default: the network's own IPv4 address (192.168.122.1 for a new `default`). */
  gatewayIp?: string;
  /** Define the network when it does not exist (and only then). */
  create: boolean;
}

export type LibvirtNetworkProblem = 'unknown-network' | 'transient' | 'needs-gateway-ip' | 'nothing-saved' | 'gone' | 'other-network' | 'changed-since';

/** The network is not one icboot can edit or revert as asked; nothing was changed. */
export class LibvirtNetworkError extends UserError {
  constructor(readonly problem: LibvirtNetworkProblem, message: string) {
    super(message);
  }
}

export interface Plan {
  name: string;
  /** False when --create will define the network. */
  exists: boolean;
  active: boolean;
  /** Guests attached to the running network: a restart would detach them from the bridge. */
  guests: number;
  /** The definition before, or null for a network that does not exist yet. */
  original: string | null;
  /** The definition icboot gives it. */
  xml: string;
  /** Whether the definition changes. */
  changed: boolean;
  /** Whether the running network lacks the edit (it changes now, or was defined earlier and not restarted since). */
  stale: boolean;
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
      throw new LibvirtNetworkError('unknown-network', `unknown libvirt network "${req.name}" at ${virsh.uri} (networks: ${all.join(', ') || 'none'}); `
        + 'pick one with --name, or add --create to define it');
    }
    const gatewayIp = req.gatewayIp ?? (req.name === 'default' ? STOCK_DEFAULT_IP : undefined);
    if (!gatewayIp) {
      throw new LibvirtNetworkError('needs-gateway-ip', `--create of network "${req.name}" needs --gateway-ip, the bridge address of the new network (e.g. 192.168.123.1)`);
    }
    const xml = newNetwork(req.name, gatewayIp, { bootfile: req.bootfile, ipxe: req.ipxe });
    return {
      name: req.name, exists: false, active: false, guests: 0, original: null, xml, changed: true, stale: false,
      diff: shortDiff(req.name, '', xml), notes: [], gatewayIp,
    };
  }
  if (!(await virsh.networks('persistent')).includes(req.name)) {
    throw new LibvirtNetworkError('transient', `network ${req.name} is transient (it has no definition to edit); make it persistent first: `
      + `virsh net-dumpxml ${req.name} > FILE; virsh net-define FILE`);
  }
  const original = await virsh.definition(req.name);
  const edit = editNetwork(original, { bootfile: req.bootfile, gatewayIp: req.gatewayIp, ipxe: req.ipxe });
  const active = (await virsh.networks('active')).includes(req.name);
  const live = active ? await virsh.run('net-dumpxml', req.name) : null;
  return {
    name: req.name, exists: true, active, guests: live ? networkConnections(live) : 0, original, xml: edit.after, changed: edit.changed,
    stale: live !== null && bootSettings(live) !== bootSettings(edit.after),
    diff: edit.changed ? shortDiff(req.name, edit.before, edit.after) : '', notes: edit.notes, gatewayIp: edit.gatewayIp,
  };
}

/** The same failure, with what icboot did about it added to the message. */
function failed(e: unknown, outcome: string): Error {
  const message = `${(e as Error).message}; ${outcome}`;
  return e instanceof VirshError ? new VirshError(e.problem, message) : new UserError(message);
}

/** Makes the network what `plan` showed; says what it did through `log`. */
export async function apply(virsh: Virsh, saved: SavedNetworks, p: Plan, log: (line: string) => void): Promise<void> {
  const autostart = `autostart unchanged (virsh net-autostart ${p.name} starts it at boot)`;
  if (!p.changed && !p.stale) {
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
      throw failed(e, `network ${p.name} was not created`);
    }
    log(`defined and started network ${p.name}; ${autostart}`);
    return;
  }
  const original = p.original!;
  const kept = saved.get(p.name);
  const uuid = networkUuid(original);
  // Keep the definition from before icboot's first edit (a later --apply with another --bootfile must not overwrite it),
  // unless the record is of an earlier network of the same name.
  const keptUuid = kept === null ? null : kept.kind === 'created' ? kept.uuid : networkUuid(kept.original);
  const saveNow = p.changed && (kept === null || keptUuid !== uuid);
  if (saveNow) saved.put(p.name, { kind: 'edited', original });
  if (p.changed) {
    try {
      await virsh.define(p.xml);
    } catch (e) {
      if (saveNow) {
        if (kept) saved.put(p.name, kept);
        else saved.forget(p.name);
      }
      throw failed(e, `network ${p.name} is unchanged`);
    }
  }
  const keptAt = `the original is kept for --revert in ${saved.originalFile(p.name)}`;
  if (!p.active) {
    log(`network ${p.name} now sends PXE clients to ${p.gatewayIp} (not running: it takes effect when it starts); ${autostart}; ${keptAt}`);
    return;
  }
  if (p.guests > 0) {
    // libvirt does not put running guests' interfaces back on a restarted bridge.
    log(`network ${p.name} is defined to send PXE clients to ${p.gatewayIp}, but it is not restarted: ${p.guests} guests are attached, and a restart `
      + `would detach them from the bridge. Restart it when they may lose their link (virsh net-destroy ${p.name}; virsh net-start ${p.name}), `
      + `then reattach or restart them; ${autostart}; ${keptAt}`);
    return;
  }
  try {
    await restart(virsh, p.name);
  } catch (e) {
    throw failed(e, await rollBack(virsh, p.name, original, p.changed));
  }
  log(`network ${p.name} now sends PXE clients to ${p.gatewayIp}, restarted; ${autostart}; ${keptAt}`);
}

/** After a failed restart: the definition that worked, running again; says what state the network is in. */
async function rollBack(virsh: Virsh, name: string, original: string, redefined: boolean): Promise<string> {
  if (redefined) {
    try {
      await virsh.define(original);
    } catch (e) {
      return `putting back its previous definition failed too (${(e as Error).message}); the network may be down with icboot's definition`;
    }
  }
  try {
    if (!(await virsh.networks('active')).includes(name)) await virsh.run('net-start', name);
  } catch (e) {
    return `its previous definition is back, but it did not start again (${(e as Error).message})`;
  }
  return `network ${name} is back to its previous definition and running`;
}

async function restart(virsh: Virsh, name: string): Promise<void> {
  await virsh.run('net-destroy', name);
  await virsh.run('net-start', name);
}
/** Undoes icboot's edit (or creation) of the network, if nothing else changed it since. */
export async function revert(virsh: Virsh, saved: SavedNetworks, name: string, log: (line: string) => void): Promise<void> {
  const kept = saved.get(name);
  if (!kept) throw new LibvirtNetworkError('nothing-saved', `nothing to revert: icboot has no saved definition of network ${name} (--apply saves one when it first edits a network)`);
  await virsh.check();
  const exists = (await virsh.networks('all')).includes(name);
  if (kept.kind === 'created') {
    if (exists) {
      const uuid = networkUuid(await virsh.definition(name));
      if (uuid !== kept.uuid) throw new LibvirtNetworkError('other-network', `network ${name} is not the one icboot created (uuid ${uuid}, icboot's was ${kept.uuid}); left as it is`);
      if ((await virsh.networks('active')).includes(name)) await virsh.run('net-destroy', name);
      await virsh.run('net-undefine', name);
    }
    saved.forget(name);
    log(exists ? `network ${name}, which icboot created, is removed` : `network ${name}, which icboot created, is already gone`);
    return;
  }
  const file = saved.originalFile(name);
  if (!exists) throw new LibvirtNetworkError('gone', `network ${name} no longer exists; its original definition is in ${file} (virsh net-define ${file})`);
  const current = await virsh.definition(name);
  if (networkUuid(current) !== networkUuid(kept.original)) {
    throw new LibvirtNetworkError('other-network', `network ${name} now has uuid ${networkUuid(current)}, not the saved ${networkUuid(kept.original)}: it is another network; `
      + `left as it is, and the saved definition stays in ${file}`);
  }
  if (withoutBootSettings(current) !== withoutBootSettings(kept.original)) {
    throw new LibvirtNetworkError('changed-since', `network ${name} was changed since icboot edited it (not only <bootp>, <tftp> and icboot's dnsmasq options); restoring the saved definition would undo that, so icboot left it; `
      + `compare with ${file} and restore by hand (virsh net-define ${file})`);
  }
  const active = (await virsh.networks('active')).includes(name);
  const guests = active ? networkConnections(await virsh.run('net-dumpxml', name)) : 0;
  if (canonical(current) !== canonical(kept.original)) await virsh.define(kept.original);
  saved.forget(name);
  if (active && guests > 0) {
    log(`network ${name} is defined as before icboot, but not restarted: ${guests} guests are attached and a restart would detach them; `
      + `restart it when they may lose their link (virsh net-destroy ${name}; virsh net-start ${name})`);
    return;
  }
  if (active) {
    try {
      await restart(virsh, name);
    } catch (e) {
      throw failed(e, `network ${name} has its definition from before icboot again, but its restart failed: check it with virsh net-list --all and start it with virsh net-start ${name}`);
    }
  }
  log(`network ${name} is back to its definition from before icboot${active ? ', restarted' : ''}`);
}

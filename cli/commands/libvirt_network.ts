// `icboot libvirt-network`: point an existing libvirt network's DHCP at the gateway, by editing it in place.
import type { Command } from 'commander';
import { UserError } from '../../client/errors.ts';
import { notice } from '../canister_command.ts';
import { example } from '../help.ts';

interface Flags {
  name: string;
  gatewayIp?: string;
  bootfile?: string;
  ipxe?: string | true;
  apply?: boolean;
  revert?: boolean;
  create?: boolean;
}

export function register(program: Command): void {
  const command = program.command('libvirt-network')
    .description('edit a libvirt network so its DHCP sends PXE clients to the gateway: prints the change, --apply makes it, --revert undoes it')
    .option('--name <name>', 'libvirt network', 'default')
    .option('--gateway-ip <ip>', 'address PXE clients fetch the boot file from (default: the network\'s own IPv4 address)')
    .option('--bootfile <file>', 'boot file DHCP hands plain PXE clients (default: pxelinux.0; with --ipxe, undionly.kpxe)')
    .option('--ipxe [url]', 'send iPXE clients to URL (default: http://<gateway-ip>/boot.ipxe) and other firmware to its iPXE or GRUB chainloader')
    .option('--apply', 'redefine the network (restarting it only if it runs); keeps the original for --revert')
    .option('--revert', 'restore the definition the network had before icboot edited it')
    .option('--create', 'define the network when it does not exist (with --apply)')
    .action(async (o: Flags, cmd: Command) => {
      const { Virsh } = await import('../../libvirt/virsh.ts');
      const { SavedNetworks, stateDir } = await import('../../libvirt/saved.ts');
      const { apply, plan, revert } = await import('../../libvirt/network.ts');
      const virsh = new Virsh();
      const saved = new SavedNetworks(stateDir(), virsh.uri);
      if (o.revert) {
        const others = ['gatewayIp', 'bootfile', 'ipxe', 'apply', 'create'].filter((k) => cmd.getOptionValueSource(k) === 'cli');
        if (others.length) throw new UserError('--revert takes only --name');
        await revert(virsh, saved, o.name, notice);
        return;
      }
      const p = await plan(virsh, { name: o.name, bootfile: o.bootfile, gatewayIp: o.gatewayIp, ipxe: o.ipxe, create: Boolean(o.create) });
      for (const line of p.notes) notice(line);
      if (p.changed) notice(p.diff.trimEnd());
      if (o.apply) {
        await apply(virsh, saved, p, notice);
        return;
      }
      process.stdout.write(p.xml.endsWith('\n') ? p.xml : `${p.xml}\n`);
      notice(p.changed
        ? `${p.exists ? 'this is the edit' : `network ${p.name} does not exist; this is the network`} icboot would make: run again with --apply to make it`
        : p.stale ? `network ${p.name} is defined to send PXE clients to ${p.gatewayIp}, but runs without it: --apply restarts it`
          : `network ${p.name} already sends PXE clients to ${p.gatewayIp}; nothing to change`);
    });
  example(command, 'icboot libvirt-network --name default --ipxe --apply');
}

// `icboot libvirt-network`: the libvirt network XML that sends PXE clients to the gateway.
import type { Command } from 'commander';
import { notice } from '../canister_command.ts';

export function register(program: Command): void {
  program.command('libvirt-network')
    .description('print (or --apply) a libvirt network whose DHCP points PXE clients at the gateway')
    .option('--name <name>', 'libvirt network name', 'default')
    .option('--gateway-ip <ip>', 'bridge address the gateway listens on', '192.168.122.1')
    .option('--bootfile <file>', 'boot file handed out by DHCP', 'pxelinux.0')
    .option('--apply', 'define and restart the network with virsh')
    .action(async (o: { name: string; gatewayIp: string; bootfile: string; apply?: boolean }) => {
      const { applyNetwork, networkXml } = await import('../../gateway/libvirt.ts');
      const xml = networkXml(o);
      process.stdout.write(xml);
      if (o.apply) applyNetwork(o, xml, notice);
    });
}

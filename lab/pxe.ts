// The PXE lab: a network namespace with a bridge, dnsmasq for DHCP only (as
// libvirt's network with <bootp/> and icboot's dnsmasq options), the gateway's
// TFTP (port 69) and HTTP (port 80) on the bridge address, and QEMU machines
// with real firmware that boot from it: SeaBIOS + iPXE, OVMF with iPXE's EFI
// ROM or with its own PXE, and AAVMF on arm64.
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHAINLOADERS, defaultIpxeUrl } from '../common/machines/firmware.ts';
import { ipxeBootOptions } from '../libvirt/dnsmasq_boot.ts';
import { CLIENT_PORT, type DhcpPacket } from '../gateway/dhcp/packet.ts';
import { DhcpPeer } from './dhcp_peer_driver.ts';
import { REPO } from './devnet.ts';
import { BRIDGE_IP, Netns } from './netns.ts';
import { until } from './poll.ts';
import { nginxConfig } from './nginx.ts';
import { socketsOn } from './proc_net.ts';
import { stopChild } from './process.ts';

const ICBOOT = join(REPO, 'cli', 'icboot.js');
const BOOT_TIMEOUT_MS = 300_000;

/** Milliseconds from QEMU's start; `installer` is absent when the boot was asked to stop at the kernel. */
export interface BootTimes {
  dhcp: number;
  kernel: number;
  installer?: number;
}

/**
 * `bios`: SeaBIOS with Debian's iPXE ROM (e1000). `efi-ipxe`: OVMF with iPXE's
 * EFI ROM (e1000). `efi-pxe`: OVMF's own PXE (virtio-net without an option
 * ROM). `arm64`: AAVMF's own PXE (virtio-net), software-emulated Cortex-A57.
 */
export type Firmware = 'bios' | 'efi-ipxe' | 'efi-pxe' | 'arm64';

/**
 * What dnsmasq hands out: `pxelinux` (pxelinux.0 to everyone, the plain BIOS
 * path), `ipxe` (icboot's dnsmasq options: iPXE to /boot.ipxe over HTTP,
 * other firmware to its chainloader over TFTP) or `addresses` (addresses
 * only, no boot information: a LAN whose DHCP server icboot cannot change,
 * where the gateway's proxyDHCP answers PXE clients).
 */
export type DhcpBoot = 'pxelinux' | 'ipxe' | 'addresses';

/** A line that shows the installer running: on the serial console, or in `file` (e.g. the gateway's log, for a fetch the installer makes). */
export interface Milestone {
  pattern: RegExp;
  file?: string;
}

export interface BootRequest {
  firmware: Firmware;
  dhcp: DhcpBoot;
  /** The guest's MAC address; default QEMU's own. */
  mac?: string;
  /** What shows the installer has started; default its language question; null: stop once the kernel has started. */
  installer?: Milestone | null;
}

export interface Boot {
  times: BootTimes;
  /** The kernel's command line as it printed it. */
  commandLine: string;
  /** The serial console's output. */
  serial: string;
}

/** The installer's language question, its first screen when nothing is preseeded. */
export const SELECT_A_LANGUAGE: Milestone = { pattern: /Select a language/ };
const OVMF = { code: '/usr/share/OVMF/OVMF_CODE_4M.fd', vars: '/usr/share/OVMF/OVMF_VARS_4M.fd' };
const AAVMF = { code: '/usr/share/AAVMF/AAVMF_CODE.fd', vars: '/usr/share/AAVMF/AAVMF_VARS.fd' };
/** Debian packages every boot of the lab needs. */
export const PACKAGES = 'qemu-system-x86 qemu-system-arm ipxe-qemu ipxe ovmf qemu-efi-aarch64 dnsmasq-base';
/** The LAN's router and DHCP server when dnsmasq hands out addresses only (see `dhcp: 'addresses'`). */
export const ROUTER_IP = '192.168.150.2';
/** The gateway's HTTP port: 80, because GRUB 2.06 (Debian 12) reaches no other (and URLs then leave it out). */
export const HTTP_PORT = 80;

/** Milliseconds from `since` until `pattern` appears in `file`. */
async function waitFor(file: string, pattern: RegExp, since: number, deadline: number): Promise<number> {
  await until(() => existsSync(file) && pattern.test(readFileSync(file, 'latin1')), `${pattern} in ${file}`, Math.max(0, deadline - Date.now()), 250);
  return Date.now() - since;
}

/** `icboot gateway` as the boot tests (and the README) run it: TFTP and HTTP on one address, ports 69 and 80, with a disk cache. */
export function gatewayArgs(address: string, cacheDir: string): string[] {
  return ['gateway', '--tftp', `${address}:69`, '--http', `${address}:${HTTP_PORT}`, '--cache-dir', cacheDir];
}

export class PxeLab {
  readonly env: NodeJS.ProcessEnv;

  constructor(readonly work: string, readonly ns = new Netns()) {
    this.env = {
      ...process.env,
      HOME: work,
      XDG_CONFIG_HOME: join(work, 'config'),
      DFX_CONFIG_ROOT: join(work, 'nodfx'),
      ICBOOT_NETWORK: 'http://127.0.0.1:4943',
    };
  }

  log(name: string): string {
    return join(this.work, name);
  }

  static checkTools(): void {
    for (const file of ['/usr/bin/qemu-system-x86_64', '/usr/bin/qemu-system-aarch64', '/usr/sbin/dnsmasq', '/usr/lib/ipxe/qemu/pxe-e1000.rom',
      '/usr/lib/ipxe/qemu/efi-e1000.rom', OVMF.code, AAVMF.code]) {
      assert.ok(existsSync(file), `${file} is missing: apt-get install ${PACKAGES}`);
    }
  }

  /** Creates the namespace, starts the devnet in it, deploys, uploads `tree`. */
  async setup(tree: string): Promise<void> {
    this.ns.create();
    await this.startDevnet([]);
    this.ns.run(process.execPath, [ICBOOT, 'deploy'], this.env, this.work);
    this.ns.run(process.execPath, [ICBOOT, 'upload', tree, '--label', 'e2e'], this.env, this.work);
  }

  private devnetChild: ChildProcess | null = null;

  /** Starts the devnet on the lab's state with `extra` flags; resolves once it listens. */
  private async startDevnet(extra: string[]): Promise<void> {
    const log = this.log('devnet.log');
    // A restart appends to the log: only its own "listening" line counts.
    writeFileSync(log, '', { flag: 'a' });
    const since = growth(log);
    this.devnetChild = this.ns.spawn(process.execPath, [ICBOOT, 'devnet', '--state-dir', join(this.work, 'devnet'), ...extra], log, this.env, this.work);
    await until(() => /devnet listening on/.test(since()), `devnet listening (see ${log})`, 30_000, 250);
  }

  /**
   * Restarts the devnet on the state setup() left (canister and release kept) with `extra` flags, e.g.
   * ['--latency', '100'] to serve the boots that follow from a slow canister without slowing the upload.
   */
  async restartDevnet(extra: string[]): Promise<void> {
    if (this.devnetChild) await stopChild(this.devnetChild, 'SIGTERM');
    await this.startDevnet(extra);
  }

  /** Runs `icboot gateway` on `address` (the bridge's), TFTP port 69 and HTTP port 80; returns its log file once both listen. */
  async gateway(name = 'gateway', address = BRIDGE_IP, extra: string[] = []): Promise<string> {
    const log = this.log(`${name}.log`);
    const child = this.ns.spawn(process.execPath, [ICBOOT, ...gatewayArgs(address, join(this.work, `${name}-cache`)), ...extra], log, this.env, this.work);
    await waitFor(log, extra.includes('--dhcp') ? /dhcp proxy listening on/ : /http listening on/, Date.now(), Date.now() + 60_000);
    this.stopLast = () => stopChild(child, 'SIGTERM');
    return log;
  }

  /** Runs tftpd-hpa serving `tree` from disk on the bridge address, port 69; resolves once that port is bound. */
  async tftpdHpa(tree: string): Promise<void> {
    const log = this.log('tftpd-hpa.log');
    const child = this.ns.spawn('/usr/sbin/in.tftpd', ['-L', '-a', `${BRIDGE_IP}:69`, '-s', tree], log);
    this.stopLast = () => stopChild(child, 'SIGTERM');
    // in.tftpd logs nothing when ready; once its socket is bound, requests wait in it until it reads them.
    await until(() => this.udpBound(69), `in.tftpd bound to UDP port 69 (see ${log})`, 30_000, 100);
  }

  /**
   * Runs nginx serving `root` from disk over HTTP on the bridge address, port 80, as the peer the gateway's
   * HTTP is measured against; resolves once it listens.
   */
  async nginx(root: string): Promise<void> {
    const conf = this.log('nginx.conf');
    const logs = this.log('nginx');
    mkdirSync(logs, { recursive: true });
    writeFileSync(conf, nginxConfig(logs, `${BRIDGE_IP}:${HTTP_PORT}`, root));
    const child = this.ns.spawn('/usr/sbin/nginx', ['-c', conf, '-g', 'daemon off;'], this.log('nginx.log'));
    this.stopLast = () => stopChild(child, 'SIGTERM');
    await until(() => this.tcpListening(HTTP_PORT), `nginx listening on TCP port ${HTTP_PORT} (see ${logs}/error.log)`, 30_000, 100);
  }

  /** Whether a socket in the namespace listens on TCP `port`. */
  private tcpListening(port: number): boolean {
    return this.sockets('tcp', port).some((fields) => fields[3] === '0A');
  }

  /** Whether a socket in the namespace is bound to UDP `port` (per /proc/net/udp as seen from inside). */
  private udpBound(port: number): boolean {
    return this.sockets('udp', port).length > 0;
  }

  /** The namespace's sockets bound to local `port`, each as /proc/net/{tcp,udp} fields (3 is the state; 0A: listening). */
  private sockets(proto: 'tcp' | 'udp', port: number): string[][] {
    return socketsOn(this.ns.run('cat', [`/proc/net/${proto}`]), port);
  }

  /** Stops the server started last (gateway, tftpd-hpa or nginx); resolves once it has exited and freed its ports. */
  stopLast: () => Promise<void> = async () => {};

  /** dnsmasq's boot settings for `dhcp`, as command-line flags. */
  private static dhcpBootFlags(dhcp: DhcpBoot): string[] {
    if (dhcp === 'addresses') return [];
    if (dhcp === 'pxelinux') return [`--dhcp-boot=pxelinux.0,,${BRIDGE_IP}`];
    return [`--dhcp-boot=${CHAINLOADERS.bios},,${BRIDGE_IP}`, ...ipxeBootOptions(BRIDGE_IP, defaultIpxeUrl(BRIDGE_IP)).map((line) => `--${line}`)];
  }

  /** Starts dnsmasq on the bridge for `run`, handing out what `dhcp` says; its log is `<run>-dnsmasq.log`. */
  private dnsmasq(run: string, dhcp: DhcpBoot): ChildProcess {
    // Handing out addresses only, dnsmasq plays the LAN's own DHCP server: another machine (a namespace of its own),
    // so a client that fetched from the lease's server rather than from the proxy's next-server would fail.
    const [ns, iface, server] = dhcp === 'addresses' ? [this.router(), 'eth0', ROUTER_IP] : [this.ns, 'br0', BRIDGE_IP];
    return ns.spawn('dnsmasq', [
      '--no-daemon', '--port=0', `--interface=${iface}`, '--bind-interfaces', '--log-dhcp',
      // A name server, as any LAN's DHCP gives (libvirt's included): without one the installer stops to ask for it.
      // Nothing answers there, and nothing needs to: every URL the boots use holds an address.
      '--dhcp-range=192.168.150.50,192.168.150.99,12h', `--dhcp-option=option:dns-server,${server}`, ...PxeLab.dhcpBootFlags(dhcp),
      `--dhcp-leasefile=${this.log(`${run}.leases`)}`,
    ], this.log(`${run}-dnsmasq.log`));
  }

  private routerNs: Netns | null = null;

  /** The LAN's router: a namespace cabled to the bridge, at ROUTER_IP. */
  private router(): Netns {
    if (this.routerNs) return this.routerNs;
    const router = new Netns(false, '-router');
    this.extras.push(router);
    router.create();
    this.cable(router, 'vr0', { address: `${ROUTER_IP}/24` });
    return (this.routerNs = router);
  }

  /** A veth from the bridge (`port`) to `ns`'s eth0, which gets the MAC and address (CIDR) given. */
  private cable(ns: Netns, port: string, o: { mac?: string; address?: string }): void {
    execFileSync('ip', ['link', 'add', 'name', port, 'netns', this.ns.name, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.name]);
    this.ns.ip('link', 'set', port, 'master', 'br0');
    this.ns.ip('link', 'set', port, 'up');
    if (o.mac) ns.ip('link', 'set', 'eth0', 'address', o.mac);
    if (o.address) ns.ip('addr', 'add', o.address, 'dev', 'eth0');
    ns.ip('link', 'set', 'eth0', 'up');
  }

  /** QEMU's command for `firmware`, its serial console written to `serial`. */
  private qemu(run: string, req: BootRequest, serial: string): [string, string[]] {
    const nic = (model: string, romfile?: string): string[] => [
      '-netdev', 'tap,id=n0,ifname=tap0,script=no,downscript=no',
      '-device', [model, 'netdev=n0', ...(req.mac ? [`mac=${req.mac}`] : []), ...(romfile === undefined ? [] : [`romfile=${romfile}`]), 'bootindex=1'].join(','),
    ];
    const common = ['-accel', 'tcg', '-m', '1024', '-nographic', '-no-reboot', '-monitor', 'none', '-display', 'none', '-serial', `file:${serial}`];
    // Firmware variables are written at boot: each run gets its own copy.
    const flash = (fw: { code: string; vars: string }): string[] => {
      const vars = this.log(`${run}-vars.fd`);
      copyFileSync(fw.vars, vars);
      return ['-drive', `if=pflash,format=raw,readonly=on,file=${fw.code}`, '-drive', `if=pflash,format=raw,file=${vars}`];
    };
    switch (req.firmware) {
      case 'bios': return ['qemu-system-x86_64', [...common, '-boot', 'n', ...nic('e1000')]];
      case 'efi-ipxe': return ['qemu-system-x86_64', [...common, '-M', 'q35', ...flash(OVMF), ...nic('e1000', '/usr/lib/ipxe/qemu/efi-e1000.rom')]];
      case 'efi-pxe': return ['qemu-system-x86_64', [...common, '-M', 'q35', ...flash(OVMF), ...nic('virtio-net-pci', '')]];
      case 'arm64': return ['qemu-system-aarch64', [...common, '-M', 'virt', '-cpu', 'cortex-a57', ...flash(AAVMF), ...nic('virtio-net-pci', '')]];
    }
  }

  /** Starts DHCP and a network-booting QEMU; resolves once the kernel (and, if asked, the installer) shows on its serial console. */
  async boot(run: string, req: BootRequest): Promise<Boot> {
    const dnsmasq = this.dnsmasq(run, req.dhcp);
    const serial = this.log(`${run}-serial.log`);
    const [cmd, args] = this.qemu(run, req, serial);
    const start = Date.now();
    const qemu = this.ns.spawn(cmd, args, this.log(`${run}-qemu.log`));
    try {
      const deadline = start + BOOT_TIMEOUT_MS;
      const times: BootTimes = {
        dhcp: await waitFor(this.log(`${run}-dnsmasq.log`), /DHCPACK/, start, deadline),
        kernel: await waitFor(serial, /Linux version/, start, deadline),
      };
      const installer = req.installer === undefined ? SELECT_A_LANGUAGE : req.installer;
      if (installer) times.installer = await waitFor(installer.file ?? serial, installer.pattern, start, deadline);
      else await waitFor(serial, /Kernel command line: [^\r\n]*[\r\n]/, start, deadline);
      const text = readFileSync(serial, 'latin1');
      return { times, serial: text, commandLine: /Kernel command line: (.*)/.exec(text)?.[1]?.trim() ?? '' };
    } finally {
      await Promise.all([stopChild(qemu, 'SIGKILL'), stopChild(dnsmasq, 'SIGKILL')]);
    }
  }

  /**
   * A plain DHCP client (busybox udhcpc) with `mac` in a namespace of its own, cabled to the bridge, while dnsmasq
   * hands out what `dhcp` says: resolves with what udhcpc printed and every DHCP packet that reached it, from any server.
   */
  async plainDhcpClient(mac: string, o: { dhcp?: DhcpBoot; vendorClass?: string } = {}): Promise<{ output: string; packets: DhcpPacket[] }> {
    const dnsmasq = this.dnsmasq(`client-${this.extras.length}`, o.dhcp ?? 'addresses');
    try {
      return await this.udhcpc(mac, o.vendorClass);
    } finally {
      await stopChild(dnsmasq, 'SIGKILL');
    }
  }

  private async udhcpc(mac: string, vendorClass: string | undefined): Promise<{ output: string; packets: DhcpPacket[] }> {
    const n = this.extras.length;
    const client = new Netns(false, `-client${n}`);
    this.extras.push(client);
    client.create();
    this.cable(client, `vc${n}`, { mac });
    // A socket on port 68 beside udhcpc (which receives on a raw socket) sees every server's answers, not only the
    // lease udhcpc took.
    const capture = await DhcpPeer.start(client, [`0.0.0.0:${CLIENT_PORT}`], 30_000);
    // -B: ask for broadcast answers, which reach the capture's socket on an interface without an address (unicast ones
    // reach only udhcpc's raw socket); a proxyDHCP answers by broadcast anyway. -q: quit once leased; -n: fail rather
    // than retry for ever; -s /bin/true: configure nothing. It reports on stderr.
    // -V: option 60, e.g. to pass for a PXE client (a fixed test string: no shell quoting needed).
    const vendor = vendorClass === undefined ? '' : ` -V ${vendorClass}`;
    // Its exit status is part of the output: a client that gets no lease is for the caller to judge.
    let output: string;
    try {
      output = client.run('sh', ['-c', `busybox udhcpc -B${vendor} -i eth0 -f -q -n -t 5 -T 2 -s /bin/true 2>&1; echo "udhcpc exit $?"`]);
    } finally {
      // Every server has answered by the time udhcpc has its ACK; the capture ends there.
      await capture.stop();
    }
    return { output, packets: capture.received.flatMap((r) => (r.packet ? [r.packet] : [])) };
  }

  /** Namespaces beside the lab's: the router, plain DHCP clients. */
  private readonly extras: Netns[] = [];

  async destroy(): Promise<void> {
    await Promise.all(this.extras.map((c) => c.destroy()));
    await this.ns.destroy();
  }
}

/** What `file` gains from now on: call the result to read the text written since. */
export function growth(file: string): () => string {
  const from = statSync(file).size;
  return () => readFileSync(file).subarray(from).toString('utf8');
}

export const seconds = (t: BootTimes): string =>
  `DHCP ${(t.dhcp / 1000).toFixed(1)} s, kernel ("Linux version") ${(t.kernel / 1000).toFixed(1)} s`
  + (t.installer === undefined ? '' : `, installer ${(t.installer / 1000).toFixed(1)} s`);

// The PXE lab: a network namespace with a bridge, dnsmasq for DHCP only (as
// libvirt's default network with <bootp/>), a TFTP server on the bridge
// address, port 69, and a QEMU machine (SeaBIOS + iPXE) that boots from it.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './devnet.ts';
import { BRIDGE_IP, Netns } from './netns.ts';
import { until } from './poll.ts';
import { stopChild } from './process.ts';

const ICBOOT = join(REPO, 'cli', 'icboot.js');
const BOOT_TIMEOUT_MS = 300_000;

export interface BootTimes {
  dhcp: number;
  kernel: number;
  installer: number;
}

/** Milliseconds from `since` until `pattern` appears in `file`. */
async function waitFor(file: string, pattern: RegExp, since: number, deadline: number): Promise<number> {
  await until(() => existsSync(file) && pattern.test(readFileSync(file, 'latin1')), `${pattern} in ${file}`, Math.max(0, deadline - Date.now()), 250);
  return Date.now() - since;
}

/** `icboot gateway` as the boot tests (and the README) run it: TFTP on the bridge address, port 69, with a disk cache. */
export function gatewayArgs(address: string, cacheDir: string): string[] {
  return ['gateway', '--tftp', `${address}:69`, '--cache-dir', cacheDir];
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
    for (const bin of ['/usr/bin/qemu-system-x86_64', '/usr/sbin/dnsmasq', '/usr/lib/ipxe/qemu/pxe-e1000.rom']) {
      assert.ok(existsSync(bin), `${bin} is missing: apt-get install qemu-system-x86 ipxe-qemu dnsmasq-base`);
    }
  }

  /** Creates the namespace, starts the devnet in it, deploys, uploads `tree`. */
  async setup(tree: string): Promise<void> {
    this.ns.create();
    this.ns.spawn(process.execPath, [ICBOOT, 'devnet', '--state-dir', join(this.work, 'devnet')], this.log('devnet.log'), this.env, this.work);
    await waitFor(this.log('devnet.log'), /devnet listening on/, Date.now(), Date.now() + 30_000);
    this.ns.run(process.execPath, [ICBOOT, 'deploy'], this.env, this.work);
    this.ns.run(process.execPath, [ICBOOT, 'upload', tree, '--label', 'e2e'], this.env, this.work);
  }

  /** Runs `icboot gateway` on `address` (the bridge's), port 69; returns its log file once it listens. */
  async gateway(name = 'gateway', address = BRIDGE_IP): Promise<string> {
    const log = this.log(`${name}.log`);
    const child = this.ns.spawn(process.execPath, [ICBOOT, ...gatewayArgs(address, join(this.work, `${name}-cache`))], log, this.env, this.work);
    await waitFor(log, /tftp listening on/, Date.now(), Date.now() + 60_000);
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

  /** Whether a socket in the namespace is bound to UDP `port` (per /proc/net/udp as seen from inside). */
  private udpBound(port: number): boolean {
    const suffix = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
    return this.ns.run('cat', ['/proc/net/udp']).split('\n').slice(1).some((line) => line.trim().split(/\s+/)[1]?.endsWith(suffix));
  }

  /** Stops the TFTP server started last (gateway or tftpd-hpa); resolves once it has exited and freed port 69. */
  stopLast: () => Promise<void> = async () => {};

  /** Starts DHCP and a PXE-booting QEMU; resolves when the installer's first screen shows. */
  async boot(run: string): Promise<BootTimes> {
    const dnsmasq = this.ns.spawn('dnsmasq', [
      '--no-daemon', '--port=0', '--interface=br0', '--bind-interfaces', '--log-dhcp',
      '--dhcp-range=192.168.150.50,192.168.150.99,12h', `--dhcp-boot=pxelinux.0,,${BRIDGE_IP}`,
      `--dhcp-leasefile=${this.log(`${run}.leases`)}`,
    ], this.log(`${run}-dnsmasq.log`));
    const serial = this.log(`${run}-serial.log`);
    const start = Date.now();
    const qemu = this.ns.spawn('qemu-system-x86_64', [
      '-accel', 'tcg', '-m', '1024', '-nographic', '-no-reboot', '-monitor', 'none', '-display', 'none',
      '-serial', `file:${serial}`, '-boot', 'n',
      '-netdev', 'tap,id=n0,ifname=tap0,script=no,downscript=no', '-device', 'e1000,netdev=n0',
    ], this.log(`${run}-qemu.log`));
    try {
      const deadline = start + BOOT_TIMEOUT_MS;
      return {
        dhcp: await waitFor(this.log(`${run}-dnsmasq.log`), /DHCPACK/, start, deadline),
        kernel: await waitFor(serial, /Linux version/, start, deadline),
        installer: await waitFor(serial, /Select a language/, start, deadline),
      };
    } finally {
      await Promise.all([stopChild(qemu, 'SIGKILL'), stopChild(dnsmasq, 'SIGKILL')]);
    }
  }

  destroy(): Promise<void> {
    return this.ns.destroy();
  }
}

export const seconds = (t: BootTimes): string =>
  `DHCP ${(t.dhcp / 1000).toFixed(1)} s, kernel ("Linux version") ${(t.kernel / 1000).toFixed(1)} s, installer ("Select a language") ${(t.installer / 1000).toFixed(1)} s`;

// The libvirt lab: a libvirtd of its own inside a network namespace, so that
// virbr0, 192.168.122.0/24, libvirt's dnsmasq and the guests exist only there,
// with the devnet and the gateway beside them; `virt-install --pxe` guests
// boot from the gateway. The host has no systemd, so the lab starts the
// daemons itself (../shared/docs/libvirt-lab.md), and teardown() puts back
// everything it changed on the host, step by step, also after a failure.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, readdirSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { icboot, type CliEnv, type CliResult } from './cli.ts';
import { run } from './gateway.ts';
import { Netns } from './netns.ts';
import { Virsh, probeSystemSockets } from '../libvirt/virsh.ts';
import { until } from './poll.ts';
import { PxeLab } from './pxe.ts';

/** libvirt's stock `default` network: its bridge address, where the gateway serves TFTP. */
export const LIBVIRT_BRIDGE_IP = '192.168.122.1';
export const NETWORK = 'default';
const NETWORK_FILE = '/etc/libvirt/qemu/networks/default.xml';
/** What libvirt writes for the network's dnsmasq (it runs in the namespace, but the file system is the host's). */
const DNSMASQ_CONF = `/var/lib/libvirt/dnsmasq/${NETWORK}.conf`;
const URI = 'qemu:///system';
const LIBVIRTD_PID = '/var/run/libvirtd.pid';
const VIRTLOGD_PID = '/var/run/virtlogd.pid';
const BOOT_TIMEOUT_MS = 330_000;

const PACKAGES = 'libvirt-daemon libvirt-daemon-driver-qemu libvirt-daemon-config-network libvirt-clients virtinst iptables qemu-system-x86 ipxe-qemu dnsmasq-base';
const TOOLS = [
  '/usr/bin/virsh', '/usr/sbin/libvirtd', '/usr/sbin/virtlogd', '/usr/bin/virt-install', '/usr/sbin/iptables', '/usr/sbin/dnsmasq',
  '/usr/bin/qemu-system-x86_64', '/usr/lib/ipxe/qemu/pxe-e1000.rom', '/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so',
  NETWORK_FILE,
];

export type LibvirtLabProblem = 'missing-tools' | 'foreign-daemon' | 'command-failed' | 'teardown';

export class LibvirtLabError extends Error {
  constructor(readonly problem: LibvirtLabProblem, message: string) {
    super(message);
  }
}

export interface GuestTimes {
  /** Milliseconds from virt-install's start to "Linux version" on the guest's serial console. */
  kernel: number;
  /** ... to the installer's "Select a language", when the boot waited for it. */
  installer?: number;
  /** ... to virt-install's exit. */
  installed: number;
}

export interface GuestBoot {
  times: GuestTimes;
  /** The guest's serial console, as far as the boot waited. */
  serial: string;
}

/** The live process `pidFile` names, if it is a running `comm` (a stale file may name a reused PID). */
function livePid(pidFile: string, comm: string): number | null {
  if (!existsSync(pidFile)) return null;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && running(pid, comm) ? pid : null;
}

function running(pid: number, comm: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "PID (comm) STATE ...": a zombie has exited already.
    return stat.startsWith(`${pid} (${comm}) `) && stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL if it is still there after a minute; resolves once the process is gone. */
async function stopPid(pid: number, comm: string): Promise<void> {
  if (!running(pid, comm)) return;
  process.kill(pid, 'SIGTERM');
  try {
    await until(() => !running(pid, comm), `${comm} (PID ${pid}) to exit after SIGTERM`, 60_000, 100);
  } catch {
    process.kill(pid, 'SIGKILL');
    await until(() => !running(pid, comm), `${comm} (PID ${pid}) to exit after SIGKILL`, 10_000, 100);
  }
}

/** Guests, networks other than the stock `default`, and autostart links in the host's libvirt configuration. */
function hostDefinitions(): string[] {
  const list = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).map((f) => join(dir, f)) : []);
  return [
    ...list('/etc/libvirt/qemu').filter((f) => f.endsWith('.xml')),
    ...list('/etc/libvirt/qemu/networks').filter((f) => f.endsWith('.xml') && f !== NETWORK_FILE),
    ...list('/etc/libvirt/qemu/networks/autostart'),
    ...list('/etc/libvirt/qemu/autostart'),
  ];
}

/** What libvirt's Debian packages leave to systemd's sysusers and tmpfiles; idempotent. */
function fillPackageGaps(): void {
  const has = (db: string, key: string): boolean => {
    try {
      execFileSync('getent', [db, key], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  for (const group of ['kvm', 'libvirt-qemu']) if (!has('group', group)) execFileSync('groupadd', ['-r', group]);
  if (!has('passwd', 'libvirt-qemu')) {
    execFileSync('useradd', ['-r', '-g', 'libvirt-qemu', '-G', 'kvm', '-d', '/var/lib/libvirt', '-s', '/usr/sbin/nologin', 'libvirt-qemu']);
  }
  for (const dir of ['/var/log/libvirt', '/var/run/libvirt']) mkdirSync(dir, { recursive: true });
}

/** The README's commands that edit and restore the network. */
export const APPLY = ['libvirt-network', '--apply'];
export const APPLY_IPXE = ['libvirt-network', '--ipxe', '--apply'];
export const REVERT = ['libvirt-network', '--revert'];

/** virt-install's flags for a PXE guest on the network, as the README gives them: software emulation, no disk, the serial console to `serial`. */
export function virtInstallArgs(name: string, serial: string): string[] {
  return ['--connect', URI, '--name', name, '--virt-type', 'qemu', '--memory', '1024', '--disk', 'none', '--pxe',
    '--network', `network=${NETWORK}`, '--osinfo', 'generic', '--graphics', 'none', '--serial', `file,path=${serial}`, '--noautoconsole'];
}

const KVM = '/dev/kvm';

/**
 * Gives /dev/kvm the owner udev gives it on a Debian host (group kvm, 0660); returns how it was, to put back.
 * Without udev it stays root-only, and libvirt then finds KVM usable when it probes QEMU as root but not for
 * the libvirt-qemu user: it throws its capabilities away and probes again on every call, and a guest started
 * with --virt-type qemu reached the kernel after 122 s instead of 45 s here.
 */
function udevKvm(): { uid: number; gid: number; mode: number } | null {
  if (!existsSync(KVM)) return null;
  const st = statSync(KVM);
  const kvmGid = Number(execFileSync('getent', ['group', 'kvm'], { encoding: 'utf8' }).split(':')[2]);
  chownSync(KVM, 0, kvmGid);
  chmodSync(KVM, 0o660);
  return { uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 };
}

export class LibvirtLab {
  /** The PXE lab's devnet, deploy, upload and gateway, in the namespace libvirtd runs in. */
  private readonly canister: PxeLab;
  /** Guests `boot` started: teardown removes any still there. */
  private readonly guests: string[] = [];
  /** The network file as the host had it: libvirtd rewrites it on first load (adding uuid and MAC). */
  private hostFile: { bytes: Buffer; mode: number } | null = null;
  /** /dev/kvm's owner and mode before the lab set udev's. */
  private hostKvm: { uid: number; gid: number; mode: number } | null = null;
  /** The network's definition and file once libvirtd had loaded it, before anything edited it. */
  private before: { definition: string; file: Buffer } | null = null;
  private libvirtd: number | null = null;
  private virtlogd: number | null = null;
  /** The networks libvirtd knew when it started: teardown removes any other (a test's own, left by a failure). */
  private networksAtStart: string[] = [];

  constructor(readonly work: string) {
    this.canister = new PxeLab(work, new Netns(false));
  }

  static checkTools(): void {
    const missing = TOOLS.filter((f) => !existsSync(f));
    if (missing.length) throw new LibvirtLabError('missing-tools', `${missing.join(', ')} missing: apt-get install ${PACKAGES}`);
  }

  private log(name: string): string {
    return this.canister.log(name);
  }

  /** The command line's environment: the lab's config home, and its state home for what `libvirt-network --apply` saves. */
  private get cli(): CliEnv {
    return { cwd: this.work, env: { ...this.canister.env, XDG_STATE_HOME: join(this.work, 'state'), LIBVIRT_DEFAULT_URI: URI } };
  }

  /** Runs `icboot ARGS` in the host namespace (virsh reaches the lab's libvirtd through its unix socket), with `env` added. */
  icboot(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
    return icboot(args, { ...this.cli, env: { ...this.cli.env, ...env } });
  }

  /** virsh on the lab's libvirtd, as icboot itself runs it. */
  readonly libvirt = new Virsh({ LIBVIRT_DEFAULT_URI: URI });

  virsh(...args: string[]): Promise<string> {
    return this.libvirt.run(...args);
  }

  /** The network's persistent definition, as `net-define` would take it. */
  definition(): Promise<string> {
    return this.libvirt.definition(NETWORK);
  }

  /** The network's definition and file from before the test edited it. */
  get original(): { definition: string; file: Buffer } {
    if (!this.before) throw new Error('the lab has not started');
    return this.before;
  }

  networkFile(): Buffer {
    return readFileSync(NETWORK_FILE);
  }

  /** The dnsmasq configuration libvirt wrote for the running network. */
  dnsmasqConf(): string {
    return readFileSync(DNSMASQ_CONF, 'utf8');
  }

  /**
   * Creates the namespace with the devnet in it (deploy, upload of `tree`), starts virtlogd and, in the
   * namespace, libvirtd, and the `default` network; refuses to run beside a libvirtd it did not start.
   */
  async start(tree: string): Promise<void> {
    const foreign = livePid(LIBVIRTD_PID, 'libvirtd');
    if (foreign !== null || (await probeSystemSockets()).includes(null)) {
      throw new LibvirtLabError('foreign-daemon', `a libvirt daemon the lab did not start is running (${foreign !== null ? `libvirtd PID ${foreign}` : 'a socket under /run/libvirt answers'}); `
        + 'the lab never uses or stops it: stop it, or run the test on a machine without one');
    }
    // The lab's libvirtd reads the host's /etc/libvirt: it would load, and autostart, the host's own guests and networks in the namespace.
    const hosts = hostDefinitions();
    if (hosts.length) {
      throw new LibvirtLabError('foreign-daemon', `this host has libvirt definitions of its own (${hosts.join(', ')}), which the lab's libvirtd would load; `
        + 'run the test on a machine whose libvirt has only the stock default network');
    }
    fillPackageGaps();
    this.hostKvm = udevKvm();
    this.hostFile = { bytes: readFileSync(NETWORK_FILE), mode: statSync(NETWORK_FILE).mode & 0o7777 };
    await this.canister.setup(tree);
    // A virtlogd already running (it only writes logs) serves the lab's libvirtd as well; only the lab's own is stopped later.
    if (livePid(VIRTLOGD_PID, 'virtlogd') === null) {
      execFileSync('virtlogd', ['-d'], { stdio: 'ignore', timeout: 60_000 });
      this.virtlogd = await until(() => livePid(VIRTLOGD_PID, 'virtlogd'), `virtlogd's PID in ${VIRTLOGD_PID}`, 30_000, 100);
    }
    execFileSync('ip', ['netns', 'exec', this.canister.ns.name, 'libvirtd', '-d'], { stdio: 'ignore', timeout: 120_000 });
    this.libvirtd = await until(() => livePid(LIBVIRTD_PID, 'libvirtd'), `libvirtd's PID in ${LIBVIRTD_PID}`, 30_000, 100);
    await until(() => this.libvirt.networks('all').then(() => true, () => false), 'virsh net-list to answer (see /var/log/libvirt/libvirtd.log)', 120_000, 250);
    this.before = { definition: await this.definition(), file: this.networkFile() };
    this.networksAtStart = await this.libvirt.networks('all');
    if (!(await this.active())) await this.virsh('net-start', NETWORK);
  }

  private async active(): Promise<boolean> {
    return (await this.libvirt.networks('active')).includes(NETWORK);
  }

  /** Runs `icboot gateway` on the bridge address (TFTP port 69, HTTP port 80) inside the namespace; returns its log file. */
  gateway(): Promise<string> {
    return this.canister.gateway('gateway', LIBVIRT_BRIDGE_IP);
  }

  /**
   * Boots a `virt-install --pxe` guest on the network, named after `name`; resolves once "Linux version" (and, with
   * `installer`, the installer's first screen) shows on its serial console and virt-install has exited. The guest is
   * removed then, so that it takes no CPU from what runs next; its serial log stays.
   */
  async boot(name: string, installer: boolean): Promise<GuestBoot> {
    const guest = `icboot-e2e-${process.pid}-${name}`;
    const serial = this.log(`${name}-serial.log`);
    const start = Date.now();
    const deadline = start + BOOT_TIMEOUT_MS;
    this.guests.push(guest);
    // Set once the boot is over, failed included: the console is no longer watched.
    let over = false;
    try {
      // virt-install may exit long after the guest has started (here libvirt probes QEMU again on every call), so the console is watched meanwhile.
      // virt-install keeps its log under $HOME/.cache: the lab's, not the user's.
      const install = run('env', ['-u', 'XDG_CACHE_HOME', `HOME=${this.work}`, 'virt-install', ...virtInstallArgs(guest, serial)], BOOT_TIMEOUT_MS).then((r) => {
        if (r.code !== 0) throw new LibvirtLabError('command-failed', `virt-install exited with ${r.code}: ${r.stderr.trim()}`);
        return Date.now() - start;
      });
      const seen = async (pattern: RegExp): Promise<number> => {
        await until(() => over || (existsSync(serial) && pattern.test(readFileSync(serial, 'latin1'))), `${pattern} in ${serial}`, Math.max(0, deadline - Date.now()), 250);
        return Date.now() - start;
      };
      const screens = (async () => ({ kernel: await seen(/Linux version/), installer: installer ? await seen(/Select a language/) : undefined }))();
      // A failed virt-install ends the wait at once.
      const [times, installed] = await Promise.all([screens, install]);
      return { times: { ...times, installed }, serial: readFileSync(serial, 'latin1') };
    } finally {
      over = true;
      // A failure here is teardown's to report: it removes every guest still there.
      await this.removeGuest(guest).catch(() => {});
    }
  }

  /**
   * Removes the guest, reverts the network with `icboot libvirt-network --revert` and checks it is as before,
   * stops the network and the daemons the lab started (by PID), deletes the namespace, and puts the host's
   * network file back. Every step runs even when one before it failed; returns the failures.
   */
  async teardown(): Promise<LibvirtLabError[]> {
    const failures: LibvirtLabError[] = [];
    const step = async (what: string, fn: () => unknown): Promise<void> => {
      try {
        await fn();
      } catch (e) {
        failures.push(new LibvirtLabError('teardown', `${what}: ${(e as Error).message.split('\n')[0]}`));
      }
    };
    if (this.libvirtd !== null) {
      for (const guest of this.guests) await step(`remove guest ${guest}`, () => this.removeGuest(guest));
      if (this.before) await step('revert the network', () => this.revertNetwork());
      await step('remove networks the tests defined', async () => {
        for (const name of (await this.libvirt.networks('all')).filter((n) => !this.networksAtStart.includes(n))) {
          if ((await this.libvirt.networks('active')).includes(name)) await this.virsh('net-destroy', name);
          await this.virsh('net-undefine', name);
        }
      });
      // libvirtd leaves a network's dnsmasq running when it exits; whoever started it, it runs in the lab's namespace.
      await step('stop the network', async () => {
        if (await this.active()) await this.virsh('net-destroy', NETWORK);
      });
      await step('stop libvirtd', () => stopPid(this.libvirtd!, 'libvirtd'));
    }
    if (this.virtlogd !== null) await step('stop virtlogd', () => stopPid(this.virtlogd!, 'virtlogd'));
    await step('delete the namespace', () => this.canister.destroy());
    if (this.hostFile) await step(`restore ${NETWORK_FILE}`, () => this.restoreHostFile(this.hostFile!));
    if (this.hostKvm) {
      const { uid, gid, mode } = this.hostKvm;
      await step(`restore ${KVM}'s owner and mode`, () => {
        chownSync(KVM, uid, gid);
        chmodSync(KVM, mode);
      });
    }
    return failures;
  }

  private async removeGuest(guest: string): Promise<void> {
    const names = (await this.virsh('list', '--all', '--name')).split('\n').map((l) => l.trim());
    if (names.includes(guest)) {
      if ((await this.virsh('domstate', guest)).trim() !== 'shut off') await this.virsh('destroy', guest);
      await this.virsh('undefine', guest);
    }
    rmSync(`/var/log/libvirt/qemu/${guest}.log`, { force: true });
  }

  private async revertNetwork(): Promise<void> {
    const before = this.original;
    // --revert says "nothing to revert" when --apply never ran.
    if ((await this.definition()) !== before.definition) {
      const r = await this.icboot(REVERT);
      if (r.code !== 0) throw new LibvirtLabError('command-failed', `icboot libvirt-network --revert exited with ${r.code}: ${r.stderr.trim()}`);
    }
    if ((await this.definition()) !== before.definition) throw new Error('the network\'s definition differs from the one before the test');
    if (!this.networkFile().equals(before.file)) throw new Error(`${NETWORK_FILE} differs from the one before the test`);
  }

  private restoreHostFile(host: { bytes: Buffer; mode: number }): void {
    if (this.networkFile().equals(host.bytes)) return;
    writeFileSync(NETWORK_FILE, host.bytes);
    chmodSync(NETWORK_FILE, host.mode);
  }
}

const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

export const seconds = (t: GuestTimes): string =>
  `from virt-install's start: kernel ("Linux version") ${s(t.kernel)}, `
  + `${t.installer === undefined ? '' : `installer ("Select a language") ${s(t.installer)}, `}virt-install exited ${s(t.installed)}`;

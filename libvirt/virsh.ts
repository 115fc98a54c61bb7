// virsh, run as a child process against one libvirt connection, with its
// failures turned into typed errors that say what to do.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../common/errors.ts';

export type VirshProblem = 'missing' | 'no-daemon' | 'denied' | 'unreachable' | 'failed';

export class VirshError extends UserError {
  constructor(readonly problem: VirshProblem, message: string) {
    super(message);
  }
}

/** The connection icboot uses: virsh's own default for root, and the system daemon (not a user session) otherwise. */
export function connectionUri(env: NodeJS.ProcessEnv = process.env): string {
  return env.LIBVIRT_DEFAULT_URI || 'qemu:///system';
}

/** The sockets a system libvirt listens on: the monolithic daemon's, then the modular daemons'. */
const SYSTEM_SOCKETS = ['/run/libvirt/libvirt-sock', '/run/libvirt/virtqemud-sock', '/run/libvirt/virtnetworkd-sock'];

/** Per system socket: null if a daemon answers on it, else the errno of the connect(). */
export function probeSystemSockets(): Promise<(string | null)[]> {
  return Promise.all(SYSTEM_SOCKETS.map(probe));
}

/** Why a system socket cannot be reached, by the errno of a connect() to it. */
function probe(path: string): Promise<string | null> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(null);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function exec(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile('virsh', args, { encoding: 'utf8', maxBuffer: 16 << 20, timeout: 120_000, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
      if (e && e.code === 'ENOENT') {
        reject(new VirshError('missing', 'virsh not found: install it (Debian: apt-get install libvirt-clients), or see docs/libvirt.md to edit the network by hand'));
      } else {
        resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout, stderr });
      }
    });
  });
}

/** virsh's own reason, one line: its `error:` lines joined. */
const reason = (stderr: string): string =>
  stderr.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => l.replace(/^error:\s*/, '')).join(': ') || 'no message';

export class Virsh {
  readonly uri: string;

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.uri = connectionUri(env);
  }

  /** Runs one virsh command; a non-zero exit becomes a VirshError naming the command and virsh's reason. */
  async run(...args: string[]): Promise<string> {
    const r = await exec(['-c', this.uri, ...args]);
    if (r.code !== 0) throw new VirshError('failed', `virsh ${args[0]} failed: ${reason(r.stderr)}`);
    return r.stdout;
  }

  /** Connects once, so that a daemon that is down or refuses us is reported as such, not as a failed command. */
  async check(): Promise<void> {
    const r = await exec(['-c', this.uri, 'uri']);
    if (r.code === 0) return;
    const virsh = reason(r.stderr);
    if (this.uri === 'qemu:///system') {
      const codes = await probeSystemSockets();
      const denied = codes.indexOf('EACCES');
      if (codes.every((c) => c === 'ENOENT' || c === 'ECONNREFUSED')) {
        throw new VirshError('no-daemon', 'libvirtd is not running (no libvirt socket answers under /run/libvirt): start it with `systemctl start libvirtd` '
          + '(or `libvirtd -d` where there is no systemd)');
      }
      // A socket that accepts a non-root user who is then turned away means libvirt's own access check (polkit or the socket's group) said no.
      if (denied >= 0 || process.getuid?.() !== 0) {
        throw new VirshError('denied', `libvirt refused ${denied >= 0 ? `access to ${SYSTEM_SOCKETS[denied]}` : 'this user'} (virsh: ${virsh}): `
          + 'run as root, or add your user to group libvirt (usermod -aG libvirt $USER, then log in again)');
      }
    }
    throw new VirshError('unreachable', `cannot connect to libvirt at ${this.uri}: ${virsh}; check that libvirtd runs and LIBVIRT_DEFAULT_URI is right`);
  }

  /** Names of the networks that exist, are running, or have a persistent definition. */
  async networks(which: 'all' | 'active' | 'persistent'): Promise<string[]> {
    // net-list shows running networks unless told --all; its filters narrow that set.
    const filters = { all: ['--all'], active: [], persistent: ['--all', '--persistent'] }[which];
    return (await this.run('net-list', '--name', ...filters)).split('\n').map((l) => l.trim()).filter(Boolean);
  }

  /** The network's persistent definition: what `net-define` replaces. */
  async definition(name: string): Promise<string> {
    return this.run('net-dumpxml', '--inactive', name);
  }

  async define(xml: string): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'icboot-virsh-'));
    try {
      const file = join(dir, 'network.xml');
      writeFileSync(file, xml);
      await this.run('net-define', file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

// A throwaway network namespace with a bridge and a tap for a PXE client:
// processes started in it are ended by PID, and the namespace is deleted,
// whatever happens.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { stopChild } from './process.ts';

export const BRIDGE_IP = '192.168.150.1';

export class Netns {
  readonly name: string;
  private readonly children: ChildProcess[] = [];

  /**
   * `bridged`: with br0 at BRIDGE_IP and a tap for a bare QEMU; without, loopback only (libvirt brings its own
   * bridge, a client namespace gets a veth). `suffix` names a second namespace of the same test; `prefix` tells
   * one test's or benchmark's namespaces from another's in `ip netns list`.
   */
  constructor(private readonly bridged = true, suffix = '', prefix = 'icboot-e2e') {
    this.name = `${prefix}-${process.pid}${suffix}`;
  }

  create(): void {
    execFileSync('ip', ['netns', 'add', this.name]);
    this.ip('link', 'set', 'lo', 'up');
    if (!this.bridged) return;
    this.ip('link', 'add', 'br0', 'type', 'bridge');
    this.ip('addr', 'add', `${BRIDGE_IP}/24`, 'dev', 'br0');
    this.ip('link', 'set', 'br0', 'up');
    this.ip('tuntap', 'add', 'tap0', 'mode', 'tap');
    this.ip('link', 'set', 'tap0', 'master', 'br0');
    this.ip('link', 'set', 'tap0', 'up');
  }

  /** Runs `ip ARGS` on the namespace, e.g. ip('addr', 'add', '10.77.0.1/24', 'dev', 'd0'). */
  ip(...args: string[]): void {
    execFileSync('ip', ['-n', this.name, ...args]);
  }

  /** Starts `cmd` inside the namespace, output to `log`. */
  spawn(cmd: string, args: string[], log: string, env: NodeJS.ProcessEnv = process.env, cwd?: string): ChildProcess {
    const fd = openSync(log, 'a');
    const child = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], { stdio: ['ignore', fd, fd], env, cwd });
    // The child has its own copy.
    closeSync(fd);
    this.children.push(child);
    return child;
  }

  /** Runs `cmd` to completion inside the namespace. */
  run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, cwd?: string): string {
    return execFileSync('ip', ['netns', 'exec', this.name, cmd, ...args], { env, cwd, encoding: 'utf8', timeout: 300_000 });
  }

  async destroy(): Promise<void> {
    await Promise.all(this.children.map((c) => stopChild(c, 'SIGKILL')));
    try {
      execFileSync('ip', ['netns', 'del', this.name]);
    } catch {
      // Already gone.
    }
  }
}

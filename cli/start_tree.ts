// What `npm start` serves: where the packages `icboot sample debian` builds
// from are installed, that sample (the Debian installer, built by the same
// code), which a guest can boot; otherwise samples/tftp, a text tree nothing
// boots. And the one command that boots a QEMU guest from npm start's gateway.
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BOOT_IPXE_PATH, httpUrl } from '../common/machines/firmware.ts';
import { assembleDebianTree, missingSamplePackages } from './sample.ts';

export type StartTree =
  | { kind: 'debian'; dir: string; label: string }
  | { kind: 'text'; dir: string; label: string; missing: string[] };

/** The tree for `missing` packages (as `missingSamplePackages()` finds them): the Debian sample, kept in `stateDir`, when none is. */
export function chooseTree(missing: string[], stateDir: string, projectDir: string): StartTree {
  if (missing.length === 0) return { kind: 'debian', dir: join(stateDir, 'sample-debian'), label: 'icboot sample debian' };
  return { kind: 'text', dir: join(projectDir, 'samples', 'tftp'), label: 'samples/tftp', missing };
}

/** The tree npm start uploads, built now if it is the Debian sample: from today's packages, so an upgrade reaches the next release. */
export function prepareTree(stateDir: string, projectDir: string): StartTree {
  const tree = chooseTree(missingSamplePackages(), stateDir, projectDir);
  if (tree.kind === 'debian') {
    // Built beside and swapped in, so a start cut short leaves the last whole tree, never half of one.
    const next = `${tree.dir}.new`;
    rmSync(next, { recursive: true, force: true });
    assembleDebianTree(next);
    if (existsSync(tree.dir)) rmSync(tree.dir, { recursive: true });
    renameSync(next, tree.dir);
  }
  return tree;
}

/** The host's loopback as a guest on QEMU's user network sees it. */
const QEMU_HOST = '10.0.2.2';

/**
 * QEMU with user networking, booting through its iPXE ROM from the gateway's
 * HTTP on the host's loopback, port `httpPort`: the guest reaches the host's
 * 127.0.0.1 as 10.0.2.2, and slirp connects any other address the guest asks
 * for from the host, so the 127.0.0.1 URLs in the gateway's scripts reach it
 * too. (QEMU's own `tftp=` serves a local directory, not a TFTP server, so
 * DHCP names an HTTP URL.) The sample's default profile runs the installer on
 * ttyS0, which -nographic puts on this terminal. Software emulation (QEMU's
 * default), as CI boots: where KVM works, `-accel kvm` is faster.
 */
export function qemuCommand(httpPort: number): string {
  return ['qemu-system-x86_64', '-m', '1024', '-nographic', '-boot', 'n',
    '-nic', `user,model=e1000,bootfile=${httpUrl(QEMU_HOST, httpPort)}${BOOT_IPXE_PATH}`].join(' ');
}

// What `npm test` needs from the machine besides Node and npm, checked before
// any test runs: a missing client would otherwise surface as cancelled tests
// under a summary that reads "fail 0". Run as a script, it prints one line
// naming the Debian packages to install and exits 1 when anything is missing.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AMD64 } from '../cli/sample.ts';

/**
 * The browser the status page test launches, where Debian's package puts it:
 * checked at this path, not on PATH, so a chromium found elsewhere (Ubuntu's
 * snap in /snap/bin) cannot pass the check and then fail the test.
 */
export const CHROMIUM = '/usr/bin/chromium';

/** One thing the tests use, and the Debian package that provides it. */
export interface Prerequisite {
  /** A program looked up on PATH, or an absolute path that must exist. */
  need: string;
  apt: string;
}

/** The one list: the README's Quick start line and .ci/run install exactly these packages (test/unit/prerequisites.test.ts). */
export const PREREQUISITES: readonly Prerequisite[] = [
  { need: AMD64.file, apt: AMD64.pkg }, // the tree upload and gateway tests serve
  { need: 'atftp', apt: 'atftp' }, // TFTP clients of the TFTP server and gateway tests
  { need: 'tftp', apt: 'tftp-hpa' },
  { need: 'curl', apt: 'curl' },
  { need: 'python3', apt: 'python3' }, // datagrams from source port 0 through a raw socket
  { need: 'prlimit', apt: 'util-linux' }, // the hardening test's file descriptor limit
  { need: 'systemd-analyze', apt: 'systemd' }, // checks the shipped unit
  { need: 'ip', apt: 'iproute2' }, // network namespaces
  { need: 'dnsmasq', apt: 'dnsmasq-base' }, // the DHCP server beside the proxyDHCP gateway
  { need: CHROMIUM, apt: 'chromium' }, // the status page's browser test
];

export interface Machine {
  /** The PATH to look programs up in. */
  path: string;
  /** Whether the tests would run as root (raw sockets, network namespaces). */
  root: boolean;
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function present(need: string, path: string): boolean {
  if (need.startsWith('/')) {
    try {
      accessSync(need);
      return true;
    } catch {
      return false;
    }
  }
  return path.split(delimiter).some((dir) => dir !== '' && executable(join(dir, need)));
}

/** The packages whose programs or files are missing, in list order, without repeats. */
export function missingPackages(m: Machine, list: readonly Prerequisite[] = PREREQUISITES): string[] {
  return [...new Set(list.filter((p) => !present(p.need, m.path)).map((p) => p.apt))];
}

/** The one line to print, or null when the machine has everything. */
export function verdict(m: Machine, list: readonly Prerequisite[] = PREREQUISITES): string | null {
  const missing = missingPackages(m, list);
  const problems = [
    ...(missing.length ? [`missing packages: apt-get install ${missing.join(' ')}`] : []),
    ...(m.root ? [] : ['run the tests as root (raw sockets and network namespaces)']),
  ];
  return problems.length ? `npm test cannot run: ${problems.join('; ')}` : null;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const line = verdict({ path: process.env.PATH ?? '', root: process.getuid?.() === 0 });
  if (line) {
    process.stderr.write(`${line}\n`);
    process.exitCode = 1;
  }
}

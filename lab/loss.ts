// Packet loss for benchmarks, without touching the host's network: the
// benchmark runs again inside a network namespace of its own (loopback only),
// where iptables drops a random share of the UDP datagrams arriving on lo.
// Servers and clients both sit on that lo, so both directions of every
// transfer lose packets (tc netem is not available in this kernel).
import { execFileSync, spawn } from 'node:child_process';
import { Netns } from './netns.ts';

const INSIDE = 'ICBOOT_BENCH_NETNS';

/** The namespace this process was re-run in by inOwnNetns(), or null outside one. */
export function ownNetns(): string | null {
  return process.env[INSIDE] ?? null;
}

/**
 * Runs this script again, with the same arguments, inside a fresh namespace,
 * and exits with its code. Everything the script starts (devnet, servers,
 * clients) inherits the namespace; whatever is left in it when the script
 * ends, even by a signal, is killed and the namespace deleted.
 */
export async function inOwnNetns(prefix: string): Promise<never> {
  const ns = new Netns(false, '', prefix);
  ns.create();
  // Name lookups with AI_ADDRCONFIG (in.tftpd's for its -a address) find no IPv4 where 127.0.0.1 is the only address.
  ns.ip('addr', 'add', '10.254.0.1/32', 'dev', 'lo');
  const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, ...process.execArgv, ...process.argv.slice(1)],
    { stdio: 'inherit', env: { ...process.env, [INSIDE]: ns.name } });
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  process.on('SIGINT', forward).on('SIGTERM', forward);
  const code = await new Promise<number>((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
  // Only this script's processes live in the namespace: a script killed before its own cleanup leaves them here.
  for (const pid of execFileSync('ip', ['netns', 'pids', ns.name], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  await ns.destroy();
  process.exit(code);
}

/** Drops `probability` of the UDP datagrams arriving in this process's namespace until remove(). */
export class UdpLoss {
  private readonly rule: string[];

  constructor(probability: number) {
    if (ownNetns() === null) throw new Error('UdpLoss outside a namespace of its own would drop the host\'s UDP');
    this.rule = ['INPUT', '-p', 'udp', '-m', 'statistic', '--mode', 'random', '--probability', String(probability), '-j', 'DROP'];
    execFileSync('iptables', ['-A', ...this.rule]);
  }

  remove(): void {
    execFileSync('iptables', ['-D', ...this.rule]);
  }
}

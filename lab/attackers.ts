// Hostile TFTP clients for hardening tests and the attack benchmark: many
// sockets on loopback addresses (all of 127.0.0.0/8 is local on Linux) that
// open transfers and then hold their slots as cheaply as they can.
import { execFile } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { OP, ack, request } from '../gateway/tftp/packet.ts';

export interface AttackOptions {
  port: number;
  file: string;
  /** Source addresses; each opens `perAddress` transfers. */
  addresses: string[];
  perAddress: number;
  /** TFTP options asked for in each RRQ. */
  options?: Record<string, string>;
  /** Acknowledge the newest block this often (a slow reader), or never (undefined). */
  ackEveryMs?: number;
}

export interface Attack {
  /** Transfers the server has answered with DATA or OACK at least once. */
  readonly opened: number;
  /** Opened transfers the server has not since ended with an ERROR (evicted, or failed). */
  readonly held: number;
  stop(): void;
}

/** `count` addresses 127.0.S.H, starting at 127.0.`subnet`.`first`. */
export function loopbackAddresses(count: number, first = 10, subnet = 0): string[] {
  return Array.from({ length: count }, (_, i) => `127.0.${subnet}.${first + i}`);
}

export async function attack(o: AttackOptions): Promise<Attack> {
  const sockets: Socket[] = [];
  const timers: NodeJS.Timeout[] = [];
  const state = { opened: 0, ended: 0 };
  for (const address of o.addresses) {
    for (let i = 0; i < o.perAddress; i++) {
      const s = createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(0, address, () => resolve());
      });
      // An attacker ignores what the server or the kernel says back (e.g. ICMP unreachable after the server gave up).
      s.on('error', () => {});
      let tid = 0;
      let newest = -1;
      let ended = false;
      s.on('message', (msg, rinfo) => {
        if (msg.length < 2) return;
        const op = msg.readUInt16BE(0);
        if (op === OP.ERROR && tid !== 0 && rinfo.port === tid && !ended) {
          ended = true;
          state.ended++;
        }
        if (op !== OP.DATA && op !== OP.OACK) return;
        if (tid === 0) state.opened++;
        tid = rinfo.port;
        newest = op === OP.OACK ? 0 : msg.readUInt16BE(2);
      });
      if (o.ackEveryMs !== undefined) {
        timers.push(setInterval(() => {
          if (tid && newest >= 0) s.send(ack(newest), tid, '127.0.0.1');
        }, o.ackEveryMs));
      }
      s.send(request(OP.RRQ, o.file, 'octet', o.options ?? {}), o.port, '127.0.0.1');
      sockets.push(s);
    }
  }
  return {
    get opened() {
      return state.opened;
    },
    get held() {
      return state.opened - state.ended;
    },
    stop() {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.close();
    },
  };
}

/** UDP datagrams to 127.0.0.1 from any source port, 0 included, in order, through one raw socket (needs root and python3). */
export function rawUdp(datagrams: { sourcePort: number; port: number; payload: Uint8Array }[]): Promise<void> {
  const script = 'import socket,struct,sys\n'
    + 's=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_UDP)\n'
    + 'for a in sys.argv[1:]:\n'
    + " f,t,h=a.split(':');p=bytes.fromhex(h);s.sendto(struct.pack('!HHHH',int(f),int(t),8+len(p),0)+p,('127.0.0.1',0))";
  const args = datagrams.map((d) => `${d.sourcePort}:${d.port}:${Buffer.from(d.payload).toString('hex')}`);
  return new Promise((resolve, reject) => {
    execFile('python3', ['-c', script, ...args], (e, _out, err) => (e ? reject(new Error(err)) : resolve()));
  });
}

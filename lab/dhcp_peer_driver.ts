// The DHCP client side of a test or benchmark: lab/dhcp_peer.ts started in a
// network namespace, sent datagrams and floods on its stdin, and what it
// receives kept, parsed, for the caller to poll.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseDhcp, type DhcpPacket } from '../gateway/dhcp/packet.ts';
import { REPO } from './devnet.ts';
import type { PeerReceived, PeerSend } from './dhcp_peer.ts';
import type { Netns } from './netns.ts';
import { until } from './poll.ts';
import { stopChild } from './process.ts';

/** A datagram the peer received, with what parseDhcp made of it (null where it refused it). */
export type PeerDatagram = PeerReceived & { packet: DhcpPacket | null };

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

export class DhcpPeer {
  readonly received: PeerDatagram[] = [];
  /** One per flood sent and not yet done, oldest first: the peer runs its stdin lines in order. */
  private readonly floods: Waiter[] = [];
  private ready = false;
  private exited: Error | null = null;

  private constructor(private readonly child: ChildProcess, private readonly deadlineMs: number) {}

  /**
   * Starts the peer in `ns` with a socket for each ADDRESS:PORT of `sockets` (socket `via` is its index there);
   * resolves once they are bound. `deadlineMs` bounds each wait, here and in next().
   */
  static async start(ns: Netns, sockets: string[], deadlineMs: number): Promise<DhcpPeer> {
    const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '--import', 'tsx', join(REPO, 'lab', 'dhcp_peer.ts'), ...sockets],
      { cwd: REPO, stdio: ['pipe', 'pipe', 'inherit'] });
    const peer = new DhcpPeer(child, deadlineMs);
    createInterface({ input: child.stdout! }).on('line', (line) => peer.read(line));
    child.on('exit', (code, signal) => peer.end(new Error(`the DHCP peer in ${ns.name} exited (${signal ?? code}); its errors are above`)));
    try {
      await until(() => {
        if (peer.exited) throw peer.exited;
        return peer.ready;
      }, 'the DHCP peer bound', deadlineMs, 50);
    } catch (e) {
      await peer.stop();
      throw e;
    }
    return peer;
  }

  send(m: PeerSend): void {
    this.child.stdin!.write(`${JSON.stringify(m)}\n`);
  }

  /** malformedPackets(seed, count) from socket `via` to `to`:`port`; resolves once all are sent. */
  flood(via: number, to: string, port: number, seed: number, count: number): Promise<void> {
    if (this.exited) return Promise.reject(this.exited);
    const sent = new Promise<void>((resolve, reject) => this.floods.push({ resolve, reject }));
    this.send({ via, to, port, flood: { seed, count } });
    return sent;
  }

  /** The first packet received on socket `via` that `match` accepts. */
  next(via: number, match: (p: DhcpPacket, r: PeerReceived) => boolean, what: string): Promise<DhcpPacket> {
    return until(() => this.received.find((r) => r.via === via && r.packet && match(r.packet, r))?.packet, what, this.deadlineMs, 20);
  }

  stop(): Promise<void> {
    this.child.stdin!.end();
    return stopChild(this.child, 'SIGTERM');
  }

  private read(line: string): void {
    if (line.startsWith('{')) {
      const r = JSON.parse(line) as PeerReceived;
      const parsed = parseDhcp(Buffer.from(r.hex, 'hex'));
      this.received.push({ ...r, packet: parsed.ok ? parsed.packet : null });
    } else if (line.startsWith('done ')) this.floods.shift()?.resolve();
    else if (line === 'ready') this.ready = true;
  }

  /** A flood still waiting on a peer that has gone would never resolve. */
  private end(why: Error): void {
    this.exited = why;
    for (const w of this.floods.splice(0)) w.reject(why);
  }
}

// Run inside a client's network namespace, as the DHCP side of a test or
// benchmark (started by lab/dhcp_peer_driver.ts): binds the UDP sockets named
// on the command line (ADDRESS:PORT, shared with other sockets on the port),
// then sends what each stdin line asks and prints every datagram it receives,
// each as one JSON line on stdout. `ready` once bound.
//   {"via": 0, "to": "255.255.255.255", "port": 67, "hex": "..."}      one datagram
//   {"via": 0, "to": "...", "port": 67, "flood": {"seed": 1, "count": 10000}}
//       malformedPackets(seed, count), `done N` once sent
import { createSocket, type Socket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { malformedPackets } from '../gateway/dhcp/corpus.ts';

export interface PeerSend {
  via: number;
  to: string;
  port: number;
  hex?: string;
  flood?: { seed: number; count: number };
}

export interface PeerReceived {
  via: number;
  from: string;
  port: number;
  hex: string;
}

/** Datagrams sent before yielding, so a flood does not outrun the receiver by much more than its socket buffer. */
const FLOOD_BATCH = 50;

const send = (s: Socket, b: Buffer, port: number, to: string): Promise<void> =>
  new Promise((resolve) => s.send(b, port, to, () => resolve()));

async function main(): Promise<void> {
  const sockets = await Promise.all(process.argv.slice(2).map((spec, via) => new Promise<Socket>((resolve) => {
    const [address, port] = spec.split(':');
    const s = createSocket({ type: 'udp4', reuseAddr: true });
    s.on('message', (msg, r) => {
      const line: PeerReceived = { via, from: r.address, port: r.port, hex: msg.toString('hex') };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    });
    s.bind(Number(port), address, () => {
      s.setBroadcast(true);
      resolve(s);
    });
  })));
  process.stdout.write('ready\n');
  for await (const text of createInterface({ input: process.stdin })) {
    const m = JSON.parse(text) as PeerSend;
    const s = sockets[m.via];
    if (m.hex) await send(s, Buffer.from(m.hex, 'hex'), m.port, m.to);
    if (m.flood) {
      let n = 0;
      for (const { bytes } of malformedPackets(m.flood.seed, m.flood.count)) {
        await send(s, bytes, m.port, m.to);
        if (++n % FLOOD_BATCH === 0) await new Promise((r) => setImmediate(r));
      }
      process.stdout.write(`done ${n}\n`);
    }
  }
  for (const s of sockets) s.close();
}

await main();

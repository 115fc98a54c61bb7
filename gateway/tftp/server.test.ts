// TftpServer over loopback with an in-memory handler: windows, timers in
// every state, option caps, slots under attack. Real clients (curl) where a
// real client shows it; raw sockets where the test must misbehave.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { attack, loopbackAddresses, type AttackOptions } from '../../lab/attackers.ts';
import { ERR, OP, ack, error, parse, request, type Packet } from './packet.ts';
import { TftpServer, validPeer, type TftpOptions } from './server.ts';
import { TftpError, type Handler } from './source.ts';

const FILE = randomBytes(3 * 1024 * 1024 + 77);
const SMALL = Buffer.from('version 1\n');

/** Serves FILE as `big`, SMALL as `small`; `stall` delivers one block and then nothing. */
const handler: Handler = async (name) => {
  if (name === 'big') return { size: FILE.length, stream: pieces(FILE) };
  if (name === 'small') return { size: SMALL.length, stream: pieces(SMALL) };
  if (name === 'stall') {
    return {
      size: FILE.length,
      stream: (async function* () {
        yield FILE.subarray(0, 700);
        await new Promise(() => {});
      })(),
    };
  }
  if (name === 'hang') return new Promise(() => {});
  throw new TftpError(ERR.NOT_FOUND, 'file not found');
};

async function* pieces(b: Buffer): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < b.length; i += 64 * 1024) yield b.subarray(i, i + 64 * 1024);
}

async function serve(o: Partial<TftpOptions> = {}): Promise<{ server: TftpServer; port: number; logs: string[] }> {
  const logs: string[] = [];
  const server = new TftpServer({ host: '127.0.0.1', port: 0, handler, log: (l) => logs.push(l), ...o });
  const [{ port }] = await server.listen();
  return { server, port, logs };
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    assert.ok(Date.now() < deadline, `${what} within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function curl(port: number, name: string): Promise<{ code: number; stdout: Buffer }> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '5', `tftp://127.0.0.1:${port}/${name}`], { encoding: 'buffer', maxBuffer: 1 << 26 }, (err, stdout) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout });
    });
  });
}

/** A raw client: every packet it receives, with the port it came from. */
class Peer {
  readonly socket: Socket = createSocket('udp4');
  readonly got: { packet: Packet | null; port: number }[] = [];
  onPacket: (p: Packet | null, port: number) => void = () => {};

  async open(address = '127.0.0.1'): Promise<this> {
    await new Promise<void>((r) => this.socket.bind(0, address, () => r()));
    this.socket.on('message', (raw, rinfo) => {
      const p = parse(raw);
      this.got.push({ packet: p.ok ? p.packet : null, port: rinfo.port });
      this.onPacket(p.ok ? p.packet : null, rinfo.port);
    });
    return this;
  }

  send(b: Uint8Array, port: number): void {
    this.socket.send(b, port, '127.0.0.1');
  }

  close(): void {
    this.socket.close();
  }
}

/** Fetches `big` with windowsize 64 at blksize 1468, ACKing every block; `drop(block)` loses a block once. */
async function windowed(port: number, drop: (block: number) => boolean = () => false): Promise<{ data: Buffer; packets: number }> {
  const peer = await new Peer().open();
  const blocks: Buffer[] = [];
  let packets = 0;
  const data = await new Promise<Buffer>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('windowed transfer did not finish')), 30_000);
    peer.onPacket = (p, from) => {
      if (p?.op === OP.OACK) peer.send(ack(0), from);
      if (p?.op === OP.ERROR) reject(new Error(p.message));
      if (p?.op !== OP.DATA) return;
      packets++;
      const expected = blocks.length + 1;
      // Out of order (after a loss) or a duplicate: ACK the last block held, as RFC 7440 receivers do.
      if ((p.block !== (expected & 0xffff)) || drop(expected)) return peer.send(ack(blocks.length & 0xffff), from);
      blocks.push(Buffer.from(p.data));
      peer.send(ack(p.block), from);
      if (p.data.length < 1468) {
        clearTimeout(timer);
        resolve(Buffer.concat(blocks));
      }
    };
    peer.send(request(OP.RRQ, 'big', 'octet', { blksize: '1468', windowsize: '64' }), port);
  });
  peer.close();
  return { data, packets };
}

describe('TftpServer', () => {
  let s: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    s = await serve();
  });
  after(async () => {
    await s.server.close();
  });

  it('replies only to unicast IPv4 sources with a port', () => {
    assert.ok(validPeer({ address: '192.168.122.57', port: 2070 }));
    for (const [address, port] of [['127.0.0.1', 0], ['0.0.0.0', 69], ['224.0.0.1', 69], ['255.255.255.255', 69], ['::1', 69], ['10.0.0.1', 70000]] as const) {
      assert.ok(!validPeer({ address, port }), `${address}:${port}`);
    }
  });

  it('serves a file byte-identical to curl', async () => {
    const r = await curl(s.port, 'big');
    assert.equal(r.code, 0);
    assert.ok(r.stdout.equals(FILE));
  });

  it('slides the window on each ACK: a client that ACKs every block gets each block once', async () => {
    const before = s.server.history.length;
    const { data, packets } = await windowed(s.port);
    assert.ok(data.equals(FILE));
    const blocks = Math.floor(FILE.length / 1468) + 1;
    assert.ok(packets <= 2 * blocks, `${packets} DATA packets for ${blocks} blocks (at most 2x)`);
    await until('the transfer recorded', () => s.server.history.length > before);
    assert.equal(s.server.history.at(-1)?.packets, blocks, 'no block was sent twice');
  });

  it('resends the window after a lost block, and the file arrives whole', async () => {
    const lost = new Set([5, 300, 1500]);
    const { data } = await windowed(s.port, (b) => lost.delete(b));
    assert.ok(data.equals(FILE));
  });

  it('declines a timeout above 10 s and grants one within it', async () => {
    for (const [asked, granted] of [['255', undefined], ['5', '5']] as const) {
      const peer = await new Peer().open();
      peer.send(request(OP.RRQ, 'small', 'octet', { timeout: asked, tsize: '0' }), s.port);
      await until('an OACK', () => peer.got.length > 0);
      const p = peer.got[0].packet;
      assert.equal(p?.op, OP.OACK);
      assert.equal((p as { options: Map<string, string> }).options.get('timeout'), granted, `timeout ${asked}`);
      assert.equal((p as { options: Map<string, string> }).options.get('tsize'), String(SMALL.length));
      peer.send(error(ERR.UNDEFINED, 'done'), peer.got[0].port);
      peer.close();
    }
  });

  it('never answers an ERROR from a stranger (no ERROR ping-pong between transfers)', async () => {
    const owner = await new Peer().open();
    owner.send(request(OP.RRQ, 'big', 'octet'), s.port);
    await until('DATA 1', () => owner.got.length > 0);
    const tid = owner.got[0].port;
    const stranger = await new Peer().open();
    stranger.send(error(ERR.UNKNOWN_TID, 'who?'), tid);
    stranger.send(ack(1), tid);
    await until('ERROR 5 for the ACK', () => stranger.got.length > 0);
    assert.equal(stranger.got.length, 1, 'only the ACK was answered');
    assert.equal((stranger.got[0].packet as { code: number }).code, ERR.UNKNOWN_TID);
    owner.send(error(ERR.UNDEFINED, 'done'), tid);
    owner.close();
    stranger.close();
  });

  it('ends a transfer whose source stalls, or whose handler never answers, and frees its slot', async () => {
    const quick = await serve({ sourceTimeoutMs: 500 });
    try {
      for (const name of ['stall', 'hang']) {
        const peer = await new Peer().open();
        // The client keeps ACKing what it has, as firmware does while it waits.
        peer.onPacket = (p, from) => {
          if (p?.op === OP.DATA) peer.send(ack(p.block), from);
        };
        peer.send(request(OP.RRQ, name, 'octet'), quick.port);
        await until(`an ERROR for ${name}`, () => peer.got.some((g) => g.packet?.op === OP.ERROR));
        assert.match((peer.got.find((g) => g.packet?.op === OP.ERROR)!.packet as { message: string }).message, /no data to send within 0.5 s/);
        await until('the slot freed', () => quick.server.active === 0);
        peer.close();
      }
    } finally {
      await quick.server.close();
    }
  });

  describe('slots under attack: a legitimate client is served while the attack goes on', () => {
    // 32 addresses in two /24s (128 transfers each, the per-/24 cap), none in the legitimate client's.
    const twoNetworks = [...loopbackAddresses(16, 10, 1), ...loopbackAddresses(16, 10, 2)];
    /** Runs the attack until `full` transfers hold slots, then fetches SMALL as a legitimate client, retrying as firmware does. */
    const served = async (options: Omit<AttackOptions, 'port' | 'file'>, full: number): Promise<void> => {
      const t = await serve();
      const a = await attack({ ...options, port: t.port, file: 'big' });
      try {
        await until('the attack holding its slots', () => t.server.active === full);
        await until('the legitimate client served', async () => {
          const r = await curl(t.port, 'small');
          return r.code === 0 && r.stdout.equals(SMALL);
        }, 30_000);
        assert.ok(t.server.active >= full - 56, 'the attack still holds slots');
      } finally {
        a.stop();
        await t.server.close();
      }
    };

    it('256 RRQs asking timeout=255 that never ACK', () => served({ addresses: twoNetworks, perAddress: 8, options: { timeout: '255' } }, 256));

    it('256 readers at blksize 8 ACKing every 0.9 s', () => served({ addresses: twoNetworks, perAddress: 8, options: { blksize: '8' }, ackEveryMs: 900 }, 256));

    // In the legitimate client's own /24, which caps them at 128.
    it('500 RRQs from 100 addresses', () => served({ addresses: loopbackAddresses(100, 100), perAddress: 5 }, 128));
  });
});

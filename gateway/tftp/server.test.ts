// TftpServer over loopback with an in-memory handler: everything that is TFTP
// protocol and nothing else. Real clients (curl, atftp, tftp-hpa) where a real
// client shows it; a raw receiver that loses, duplicates and reorders packets
// where the test must misbehave; timeouts short, since no canister is behind.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { attack, loopbackAddresses, rawUdp, type AttackOptions } from '../../lab/attackers.ts';
import { tempDir } from '../../lab/devnet.ts';
import { RawClient, run } from '../../lab/gateway.ts';
import { until } from '../../lab/poll.ts';
import { ERR, OP, ack, error, request, type Packet } from './packet.ts';
import { TftpServer, type TftpOptions } from './server.ts';
import { validPeer } from './sockets.ts';
import { TftpError, type Handler } from './source.ts';

const FILE = randomBytes(3 * 1024 * 1024 + 77);
const SMALL = Buffer.from('version 1\n');
/** Read in netascii, a bare CR and an LF each land on the last byte of a 512-byte block. */
const TEXT = Buffer.from(`${'a'.repeat(511)}\r${'b'.repeat(510)}\nline\r\nend\n`, 'latin1');
const TEXT_WIRE = Buffer.from(`${'a'.repeat(511)}\r\0${'b'.repeat(510)}\r\nline\r\0\r\nend\r\n`, 'latin1');
/** Files of more than 65535 blocks at blksize 512 and 1468, so block numbers wrap. */
const WRAP = { wrap512: 65536 * 512 + 1000, wrap1468: 65536 * 1468 + 1000 } as const;

/** `size` bytes of an AES-CTR keystream: every block differs, nothing is held in memory. */
async function* keystream(size: number): AsyncGenerator<Uint8Array> {
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16));
  const zeros = Buffer.alloc(64 * 1024);
  for (let left = size; left > 0; left -= zeros.length) yield cipher.update(zeros.subarray(0, Math.min(left, zeros.length)));
}

async function sha256(stream: AsyncIterable<Uint8Array>): Promise<string> {
  const h = createHash('sha256');
  for await (const b of stream) h.update(b);
  return h.digest('hex');
}

/** Serves FILE as `big`, SMALL, TEXT, an empty file, the WRAP files; `stall` delivers one block and then nothing; `hang` never answers. */
const handler: Handler = async (name) => {
  const files: Record<string, Buffer> = { big: FILE, small: SMALL, text: TEXT, empty: Buffer.alloc(0) };
  if (name in files) return { size: files[name].length, stream: pieces(files[name]) };
  if (name in WRAP) return { size: WRAP[name as keyof typeof WRAP], stream: keystream(WRAP[name as keyof typeof WRAP]) };
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
  if (name === 'broken') {
    return {
      size: FILE.length,
      stream: (async function* () {
        yield FILE.subarray(0, 64 * 1024);
        yield FILE.subarray(64 * 1024, 128 * 1024);
        throw new TftpError(ERR.UNDEFINED, 'the canister cannot be reached');
      })(),
    };
  }
  throw new TftpError(ERR.NOT_FOUND, 'file not found');
};

async function* pieces(b: Buffer): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < b.length; i += 64 * 1024) yield b.subarray(i, i + 64 * 1024);
}

interface Served {
  server: TftpServer;
  port: number;
  logs: string[];
}

async function serveWith(o: Partial<TftpOptions>): Promise<Served> {
  const logs: string[] = [];
  const server = new TftpServer({ handler, log: (l) => logs.push(l), ...o });
  const { port } = await server.listenOn('127.0.0.1', 0);
  return { server, port, logs };
}

/** The log line of a finished transfer of `name`, once there is one whose result matches. */
function finished(s: Served, name: string, result: RegExp): Promise<string> {
  const line = new RegExp(`^tftp 127\\.0\\.0\\.1:\\d+ ${name} \\d+ bytes .* ${result.source}$`);
  return until(() => s.logs.find((l) => line.test(l)), `the transfer of ${name} ending with ${result.source}`, 20_000, 10);
}

function curl(port: number, name: string, args: string[] = []): Promise<{ code: number; stdout: Buffer }> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '60', ...args, `tftp://127.0.0.1:${port}/${name}`], { encoding: 'buffer', maxBuffer: 1 << 26 }, (err, stdout) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout });
    });
  });
}

/** A raw client: every packet it receives, with the port it came from. */
const isOp = (op: number) => (p: Packet | null): boolean => p?.op === op;

/** The network between receiver and server, as the receiver sees it. */
interface Faults {
  /** Loses an arriving DATA or OACK when this returns true. */
  lose?: (p: Packet) => boolean;
  /** Each ACK is sent this many times. */
  ackCopies?: number;
  /** Each ACK of a DATA is held back until the next one goes, then sent after it. */
  swapAcks?: boolean;
}

interface Received {
  data: Buffer;
  /** DATA packets that arrived, by block number, lost ones included. */
  arrivals: Map<number, number>;
  oacks: number;
}

/** An RFC 7440 receiver: ACKs every block that arrives in order, and the last one it holds when one is out of order. */
async function receive(port: number, name: string, options: Record<string, string> = {}, faults: Faults = {}, mode = 'octet'): Promise<Received> {
  const peer = await new RawClient().open();
  const blksize = Number(options.blksize ?? 512);
  const blocks: Buffer[] = [];
  const arrivals = new Map<number, number>();
  let oacks = 0;
  let heldBack: number | null = null;
  /** `last`: nothing more will come until this ACK is sent. */
  const sendAck = (block: number, to: number, last: boolean): void => {
    let order = [block];
    if (faults.swapAcks) {
      if (heldBack === null && !last) {
        heldBack = block;
        return;
      }
      order = heldBack === null ? [block] : [block, heldBack];
      heldBack = null;
    }
    for (const b of order) for (let i = 0; i < (faults.ackCopies ?? 1); i++) peer.send(ack(b), to);
  };
  try {
    return await new Promise<Received>((resolve, reject) => {
      peer.onPacket = (p, from) => {
        if (p?.op === OP.ERROR) return reject(new Error(`ERROR ${p.code}: ${p.message}`));
        if (p?.op === OP.OACK) oacks++;
        if (p?.op === OP.DATA) arrivals.set(p.block, (arrivals.get(p.block) ?? 0) + 1);
        if (!p || faults.lose?.(p)) return;
        if (p.op === OP.OACK && blocks.length === 0) return sendAck(0, from, true);
        if (p.op !== OP.DATA) return;
        if (p.block !== ((blocks.length + 1) & 0xffff)) return sendAck(blocks.length & 0xffff, from, false);
        blocks.push(Buffer.from(p.data));
        const last = p.data.length < blksize;
        sendAck(p.block, from, last);
        if (last) resolve({ data: Buffer.concat(blocks), arrivals, oacks });
      };
      peer.send(request(OP.RRQ, name, mode, options), port);
      setTimeout(() => reject(new Error(`${name} did not arrive within 60 s`)), 60_000).unref();
    });
  } finally {
    peer.close();
  }
}

// Every behaviour holds whether transfers run on the thread that admits them or on a worker thread.
for (const workers of [0, 1]) describe(`TftpServer, transfers ${workers ? 'on a worker thread' : 'on the admitting thread'}`, () => {
  const serve = (o: Partial<TftpOptions> = {}): Promise<Served> => serveWith({ workers, ...o });
  let s: Served;
  let dir: string;
  before(async () => {
    s = await serve();
    dir = tempDir('tftp');
  });
  after(async () => {
    await s.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('replies only to unicast IPv4 sources with a port', () => {
    assert.ok(validPeer({ address: '192.168.122.57', port: 2070 }));
    for (const [address, port] of [['127.0.0.1', 0], ['0.0.0.0', 69], ['224.0.0.1', 69], ['255.255.255.255', 69], ['::1', 69], ['10.0.0.1', 70000]] as const) {
      assert.ok(!validPeer({ address, port }), `${address}:${port}`);
    }
  });

  describe('real clients', () => {
    it('serves files byte-identical to curl (blksize 512 and 1468), atftp (1468, windowsize 16) and tftp-hpa, empty ones included', async () => {
      const to = join(dir, 'f');
      const clients: [string, (name: string) => [string, string[]]][] = [
        ['curl 512', (n) => ['curl', ['-sS', '-o', to, `tftp://127.0.0.1:${s.port}/${n}`]]],
        ['curl 1468', (n) => ['curl', ['-sS', '--tftp-blksize', '1468', '-o', to, `tftp://127.0.0.1:${s.port}/${n}`]]],
        ['atftp 1468 w16', (n) => ['atftp', ['--option', 'blksize 1468', '--option', 'windowsize 16', '-g', '-r', n, '-l', to, '127.0.0.1', String(s.port)]]],
        ['tftp-hpa', (n) => ['tftp', ['-m', 'binary', '127.0.0.1', String(s.port), '-c', 'get', n, to]]],
      ];
      for (const [client, command] of clients) {
        // curl 7.88 fails on 0-byte files with any server (tftpd-hpa too: "getpeername() failed").
        const files: [string, Buffer][] = [['big', FILE], ['small', SMALL]];
        if (!client.startsWith('curl')) files.push(['empty', Buffer.alloc(0)]);
        for (const [name, content] of files) {
          rmSync(to, { force: true });
          const [cmd, args] = command(name);
          const r = await run(cmd, args);
          assert.equal(r.code, 0, `${client} ${name}: ${r.stderr}`);
          assert.ok(readFileSync(to).equals(content), `${client} ${name} differs`);
        }
      }
    });

    it('ignores unparseable or out-of-range options: atftp gets the file with defaults', async () => {
      const to = join(dir, 'opt');
      const r = await run('atftp', ['--option', 'blksize 5', '--option', 'windowsize 0', '--option', 'timeout 999', '-g', '-r', 'small', '-l', to, '127.0.0.1', String(s.port)]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(readFileSync(to).equals(SMALL));
    });

    it('answers a missing file with ERROR 1, which curl reports', async () => {
      assert.equal((await curl(s.port, 'pxelinux.cfg/01-52-54-00-12-34-56')).code, 68, 'curl: TFTP file not found');
    });

    // Windowed: 65,536 lock-step round trips would take seconds, and the server's block arithmetic is the same.
    it('serves past block 65535: block numbers wrap, byte-identical to atftp (windowsize 64) at blksize 512 and 1468', async () => {
      for (const [name, blksize] of [['wrap512', '512'], ['wrap1468', '1468']] as const) {
        const to = join(dir, name);
        const r = await run('atftp', ['--option', `blksize ${blksize}`, '--option', 'windowsize 64', '-g', '-r', name, '-l', to, '127.0.0.1', String(s.port)], 300_000);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(await sha256(pieces(readFileSync(to))), await sha256(keystream(WRAP[name])), `${name} byte-identical`);
        rmSync(to);
      }
    });

    it('sends netascii with CR NUL and CR LF, across block boundaries, and tftp-hpa reads it back', async () => {
      const wire = await receive(s.port, 'text', {}, {}, 'netascii');
      assert.ok(wire.data.equals(TEXT_WIRE), 'CR → CR NUL, LF → CR LF');
      assert.deepEqual([wire.data[511], wire.data[512], wire.data[1023], wire.data[1024]], [0x0d, 0x00, 0x0d, 0x0a], 'a pair split between blocks');
      const to = join(dir, 'text');
      const r = await run('tftp', ['-m', 'ascii', '127.0.0.1', String(s.port), '-c', 'get', 'text', to]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(readFileSync(to).equals(TEXT), 'tftp-hpa decodes what was sent');
    });
  });

  describe('requests', () => {
    it('answers writes, unknown modes, malformed packets and stray ACKs with an ERROR, ignores junk, and serves on', async () => {
      const c = await new RawClient().open();
      const cases: [Uint8Array, number][] = [
        [request(OP.WRQ, 'pxelinux.0', 'octet'), ERR.ACCESS],
        [request(OP.RRQ, 'nope', 'mail'), ERR.ILLEGAL],
        [Buffer.from([0, 1, 0x61, 0x62]), ERR.ILLEGAL],
        [Buffer.from([0, 9, 1, 2, 3]), ERR.ILLEGAL],
        [ack(1), ERR.ILLEGAL],
      ];
      for (const [packet, code] of cases) {
        const n = c.received.length;
        c.send(packet, s.port);
        const p = (await c.next(() => true, `an answer to ${Buffer.from(packet).toString('hex')}`, n)).packet;
        assert.ok(p && p.op === OP.ERROR, `an ERROR answers ${Buffer.from(packet).toString('hex').slice(0, 40)}`);
        assert.equal(p.code, code);
      }
      // Junk gets no answer: a WRQ sent after it is answered first.
      const n = c.received.length;
      for (const junk of [Buffer.alloc(0), Buffer.from([7])]) c.send(junk, s.port);
      c.send(request(OP.WRQ, 'x', 'octet'), s.port);
      await c.next(() => true, 'the answer to the WRQ', n);
      assert.equal((c.received[n].packet as { code?: number } | null)?.code, ERR.ACCESS, 'the junk was not answered');
      c.close();
      const ok = await curl(s.port, 'small');
      assert.equal(ok.code, 0, 'the server still serves');
    });

    it('answers nothing at the listener to a client whose transfer runs: curl resending 4 bytes of its RRQ there does not end its boot', async () => {
      const c = await new RawClient().open();
      c.send(request(OP.RRQ, 'big', 'octet', { blksize: '1468' }), s.port);
      const tid = (await c.next(isOp(OP.OACK), 'the OACK')).port;
      const truncated = request(OP.RRQ, 'big', 'octet').subarray(0, 4);
      c.send(truncated, s.port);
      c.send(ack(0), tid);
      const first = await c.next(isOp(OP.DATA), 'DATA 1');
      assert.equal((first.packet as { block: number }).block, 1);
      assert.deepEqual(c.received.filter((g) => g.packet?.op === OP.ERROR), [], 'no ERROR');
      c.send(error(ERR.UNDEFINED, 'done'), tid);
      c.close();
      // From a client without a transfer the same bytes are malformed, as above.
      const stranger = await new RawClient().open();
      stranger.send(truncated, s.port);
      const e = (await stranger.next(() => true, 'an answer to the stranger')).packet;
      assert.equal(e?.op === OP.ERROR && e.code, ERR.ILLEGAL);
      stranger.close();
    });

    it('declines a timeout above 10 s and grants one within it', async () => {
      for (const [asked, granted] of [['255', undefined], ['5', '5']] as const) {
        const peer = await new RawClient().open();
        peer.send(request(OP.RRQ, 'small', 'octet', { timeout: asked, tsize: '0' }), s.port);
        const { packet: p, port } = await peer.next(() => true, 'an OACK');
        assert.equal(p?.op, OP.OACK);
        assert.equal((p as { options: Map<string, string> }).options.get('timeout'), granted, `timeout ${asked}`);
        assert.equal((p as { options: Map<string, string> }).options.get('tsize'), String(SMALL.length));
        peer.send(error(ERR.UNDEFINED, 'done'), port);
        peer.close();
      }
    });

    it('drops datagrams from port 0 to the listener, as an RRQ, and to a live transfer, with a log line', async () => {
      const owner = await new RawClient().open();
      owner.send(request(OP.RRQ, 'big', 'octet'), s.port);
      const tid = (await owner.next(isOp(OP.DATA), 'DATA 1')).port;
      await rawUdp([
        { sourcePort: 0, port: s.port, payload: Buffer.from([0, 9]) },
        { sourcePort: 0, port: s.port, payload: request(OP.RRQ, 'small', 'octet') },
        { sourcePort: 0, port: tid, payload: ack(1) },
      ]);
      // The transfer's stranger socket handles datagrams in order: an answer to this one means the port-0 one was handled.
      const stranger = await new RawClient().open();
      stranger.send(ack(1), tid);
      const answer = await stranger.next(() => true, 'ERROR 5');
      assert.equal((answer.packet as { code?: number } | null)?.code, ERR.UNKNOWN_TID);
      stranger.close();
      owner.send(error(ERR.UNDEFINED, 'done'), tid);
      owner.close();
      assert.equal((await curl(s.port, 'small')).code, 0, 'the server still serves');
      assert.ok(s.logs.some((l) => /tftp: dropped a packet from 127\.0\.0\.1:0: no reply can go to that address and port/.test(l)));
    });
  });

  describe('loss, duplication and reordering', () => {
    it('retransmits a lost DATA in lock-step, and the file arrives whole', async () => {
      const quick = await serve({ timeoutMs: 100 });
      try {
        let lost = false;
        const r = await receive(quick.port, 'big', { blksize: '1468' }, { lose: (p) => p.op === OP.DATA && p.block === 3 && !lost && (lost = true) });
        assert.ok(r.data.equals(FILE));
        assert.ok((r.arrivals.get(3) ?? 0) >= 2, 'DATA 3 came again after it was lost');
      } finally {
        await quick.server.close();
      }
    });

    it('resends the window after a lost block, and the file arrives whole', async () => {
      const lost = new Set([5, 300, 1500]);
      const r = await receive(s.port, 'big', { blksize: '1468', windowsize: '64' }, { lose: (p) => p.op === OP.DATA && lost.delete(p.block) });
      assert.ok(r.data.equals(FILE));
    });

    it('resends a lost OACK', async () => {
      const quick = await serve({ timeoutMs: 100 });
      try {
        let lost = false;
        const r = await receive(quick.port, 'small', { blksize: '1468' }, { lose: (p) => p.op === OP.OACK && !lost && (lost = true) });
        assert.ok(r.data.equals(SMALL));
        assert.equal(r.oacks, 2, 'the OACK came again after it was lost');
      } finally {
        await quick.server.close();
      }
    });

    it('adapts its retransmit timeout to the round trip: a block lost mid-transfer comes again long before the configured 10 s', async () => {
      const patient = await serve({ timeoutMs: 10_000 });
      try {
        let lost = false;
        const fetched = receive(patient.port, 'big', { blksize: '1468' }, { lose: (p) => p.op === OP.DATA && p.block === 500 && !lost && (lost = true) });
        const r = await Promise.race([fetched, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('still waiting after 5 s')), 5000).unref())]);
        assert.ok(r.data.equals(FILE));
        assert.equal(r.arrivals.get(500), 2, 'DATA 500 came again after it was lost');
      } finally {
        await patient.server.close();
      }
    });

    // Timeouts long enough that a block sent twice can only come from answering an ACK: negotiated, so not adapted.
    it('answers duplicated ACKs in lock-step with nothing: every block is sent once (no Sorcerer\'s Apprentice)', async () => {
      const patient = await serve({ timeoutMs: 10_000 });
      try {
        const r = await receive(patient.port, 'big', { blksize: '1468', timeout: '10' }, { ackCopies: 3 });
        assert.ok(r.data.equals(FILE));
        assert.deepEqual([...r.arrivals.values()].filter((n) => n !== 1), [], 'each block once');
        assert.equal(r.arrivals.size, Math.floor(FILE.length / 1468) + 1);
      } finally {
        await patient.server.close();
      }
    });

    it('slides the window on each ACK, in order or swapped: a client that ACKs every block gets each block once', async () => {
      const patient = await serve({ timeoutMs: 10_000 });
      try {
        for (const swapAcks of [false, true]) {
          const r = await receive(patient.port, 'big', { blksize: '1468', windowsize: '64', timeout: '10' }, { swapAcks });
          assert.ok(r.data.equals(FILE));
          assert.deepEqual([...r.arrivals.values()].filter((n) => n !== 1), [], `each block once${swapAcks ? ' (ACKs swapped)' : ''}`);
          assert.equal(r.arrivals.size, Math.floor(FILE.length / 1468) + 1);
        }
      } finally {
        await patient.server.close();
      }
    });

    it('sends one DATA for five copies of an ACK, ERROR 5 to a stranger, and carries on', async () => {
      const patient = await serve({ timeoutMs: 10_000 });
      try {
        const c = await new RawClient().open();
        c.send(request(OP.RRQ, 'big', 'octet', { timeout: '10' }), patient.port);
        const tid = (await c.next(isOp(OP.OACK), 'the OACK')).port;
        c.send(ack(0), tid);
        const first = await c.next(isOp(OP.DATA), 'DATA 1');
        assert.equal((first.packet as { block: number }).block, 1);
        for (let i = 0; i < 5; i++) c.send(ack(1), tid);
        await c.next((p) => p?.op === OP.DATA && p.block === 2, 'DATA 2');
        const stranger = await new RawClient().open();
        stranger.send(ack(2), tid);
        const answer = await stranger.next(() => true, 'an answer to the stranger');
        assert.equal(answer.packet?.op, OP.ERROR);
        assert.equal((answer.packet as { code: number }).code, ERR.UNKNOWN_TID);
        stranger.close();
        // The transfer goes on undisturbed; DATA 3 leaves the server after anything the five ACKs caused.
        c.send(ack(2), tid);
        const third = await c.next((p) => p?.op === OP.DATA && p.block === 3, 'DATA 3');
        const blocks = c.received.slice(0, third.index + 1).filter((g) => g.packet?.op === OP.DATA).map((g) => (g.packet as { block: number }).block);
        assert.deepEqual(blocks, [1, 2, 3], 'one DATA 2 for five ACK 1');
        c.send(error(ERR.UNDEFINED, 'done'), tid);
        c.close();
      } finally {
        await patient.server.close();
      }
    });
  });

  describe('timeouts', () => {
    it('frees the transfer of a client that vanished, and of one that falls silent after its retries', async () => {
      const quick = await serve({ timeoutMs: 20 });
      try {
        const gone = await new RawClient().open();
        gone.send(request(OP.RRQ, 'big', 'octet'), quick.port);
        await gone.next(isOp(OP.DATA), 'DATA 1');
        gone.close();
        // Freed by its retransmit timer running out, or sooner by the ICMP error the closed port returns.
        await finished(quick, 'big', /(timeout after 5 retries|client went away \(port unreachable\))/);
        const silent = await new RawClient().open();
        silent.send(request(OP.RRQ, 'small', 'octet'), quick.port);
        await finished(quick, 'small', /timeout after 5 retries/);
        await until(() => silent.received.length >= 6, 'DATA 1 and its retransmissions');
        assert.equal(silent.received.filter((g) => g.packet?.op === OP.DATA && g.packet.block === 1).length, 6, 'DATA 1 and its 5 retransmissions');
        silent.close();
      } finally {
        await quick.server.close();
      }
    });

    it('ends a transfer whose source stalls, or whose handler never answers, and frees its slot', async () => {
      const quick = await serve({ sourceTimeoutMs: 500, maxTransfers: 1 });
      try {
        for (const name of ['stall', 'hang']) {
          const peer = await new RawClient().open();
          // The client keeps ACKing what it has, as firmware does while it waits.
          peer.onPacket = (p, from) => {
            if (p?.op === OP.DATA) peer.send(ack(p.block), from);
          };
          peer.send(request(OP.RRQ, name, 'octet'), quick.port);
          const e = await peer.next(isOp(OP.ERROR), `an ERROR for ${name}`);
          assert.match((e.packet as { message: string }).message, /no data to send within 0.5 s/);
          await finished(quick, name, /error 0: no data to send within 0\.5 s/);
          peer.close();
        }
        // The one slot is free again.
        assert.equal((await curl(quick.port, 'small')).code, 0);
      } finally {
        await quick.server.close();
      }
    });

    it('ends a transfer whose source fails part way with its error, and nothing else: the next transfers are served', async () => {
      const t = await serve();
      try {
        for (let i = 0; i < 3; i++) {
          assert.notEqual((await curl(t.port, 'broken')).code, 0);
          await finished(t, 'broken', /error 0: the canister cannot be reached/);
          assert.ok((await curl(t.port, 'small')).stdout.equals(SMALL));
        }
        assert.deepEqual(t.logs.filter((l) => /worker/.test(l)), [], 'no worker stopped');
      } finally {
        await t.server.close();
      }
    });
  });

  it('survives 12,000 malformed datagrams at its listener and at live transfers, serves byte-identical files after, with bounded memory', async () => {
    const t = await serve({ maxPerClient: 64 });
    const clients: RawClient[] = [];
    const fuzzers: RawClient[] = [];
    try {
      assert.ok((await curl(t.port, 'big')).stdout.equals(FILE));
      const rssBefore = process.memoryUsage().rss;
      const tids: number[] = [];
      for (let i = 0; i < 8; i++) {
        const c = await new RawClient().open();
        c.send(request(OP.RRQ, 'big', 'octet', { blksize: '1468' }), t.port);
        tids.push((await c.next(() => true, 'the first answer')).port);
        clients.push(c);
      }
      for (let i = 0; i < 4; i++) fuzzers.push(await new RawClient().open());
      const seed = Date.now() % 1_000_000;
      const r = prng(seed);
      for (let i = 0; i < 12_000; i++) {
        const packet = fuzzPacket(r);
        const k = r(4);
        if (k < 2) fuzzers[r(4)].send(packet, t.port);
        else if (k === 2) fuzzers[r(4)].send(packet, tids[r(tids.length)]);
        else clients[r(clients.length)].send(packet, tids[r(tids.length)]);
        if (i % 200 === 199) await new Promise((res) => setImmediate(res));
      }
      assert.ok((await curl(t.port, 'big')).stdout.equals(FILE), `byte-identical after the storm (seed ${seed})`);
      const grown = process.memoryUsage().rss - rssBefore;
      assert.ok(grown < 64 * 1024 * 1024, `RSS grew by ${(grown / 1024 / 1024).toFixed(1)} MiB (seed ${seed})`);
    } finally {
      for (const c of [...clients, ...fuzzers]) c.close();
      await t.server.close();
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
        await until(() => a.held === full, 'the attack holding its slots');
        await until(async () => {
          const r = await curl(t.port, 'small');
          return r.code === 0 && r.stdout.equals(SMALL);
        }, 'the legitimate client served');
        assert.ok(a.held >= full - 56, 'the attack still holds slots');
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

/** Deterministic bytes for the fuzzer, so a failure can be replayed from its seed. */
function prng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

/** A malformed or hostile TFTP datagram of one of many shapes. */
function fuzzPacket(r: (n: number) => number): Buffer {
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => r(256)));
  const op = (o: number, rest: Buffer): Buffer => Buffer.concat([Buffer.from([o >> 8, o & 0xff]), rest]);
  switch (r(9)) {
    case 0: return bytes(r(4));
    case 1: return bytes(r(700));
    case 2: return op(1 + r(2), bytes(r(300)));
    case 3: return request(OP.RRQ, ['../../etc/passwd', 'a\u0001b', 'x'.repeat(r(3000)), '', 'big'][r(5)], ['octet', 'mail', 'netascii', ''][r(4)],
      Object.fromEntries(Array.from({ length: r(40) }, () => [['blksize', 'tsize', 'timeout', 'windowsize', bytes(3).toString('latin1')][r(5)], String(r(1e9))])));
    case 4: return op(OP.ACK, bytes(r(6)));
    case 5: return op(OP.DATA, bytes(r(1500)));
    case 6: return op(OP.OACK, bytes(r(100)));
    case 7: return op(7 + r(65_529), bytes(r(50)));
    default: return op(OP.ERROR, bytes(r(80)));
  }
}

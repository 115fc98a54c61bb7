// TFTP packets: parsing never throws, names are UTF-8 with a latin1 fallback,
// and what the builders make parses back to what they were given.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ERR, OP, ack, data, decodeName, error, oack, parse, request } from './packet.ts';

describe('TFTP packets', () => {
  it('decodes names as UTF-8, and as latin1 when they are not UTF-8', () => {
    assert.equal(decodeName(Buffer.from('café.txt', 'utf8')), 'café.txt');
    assert.equal(decodeName(Buffer.from([0x63, 0x61, 0x66, 0xe9])), 'café');
    const p = parse(request(OP.RRQ, 'pxelinux.cfg/café', 'octet', { blksize: '1468' }));
    assert.ok(p.ok && p.packet.op === OP.RRQ);
    assert.equal(p.packet.filename, 'pxelinux.cfg/café');
    assert.equal(p.packet.options.get('blksize'), '1468');
  });

  it('reads a request: mode and option names in any case, the first of a repeated option', () => {
    const raw = Buffer.from('\0\x01pxelinux.0\0NetASCII\0BLKSIZE\x001468\0blksize\x00512\0tsize\x000\0', 'latin1');
    const p = parse(raw);
    assert.ok(p.ok && p.packet.op === OP.RRQ);
    assert.equal(p.packet.mode, 'netascii');
    assert.deepEqual([...p.packet.options], [['blksize', '1468'], ['tsize', '0']]);
    const w = parse(request(OP.WRQ, 'a', 'octet'));
    assert.ok(w.ok && w.packet.op === OP.WRQ && w.packet.options.size === 0);
  });

  it('parses back what the builders make', () => {
    const d = parse(data(65536 + 7, Buffer.from('abc')));
    assert.ok(d.ok && d.packet.op === OP.DATA);
    assert.equal(d.packet.block, 7, 'block numbers are 16 bits');
    assert.deepEqual(Buffer.from(d.packet.data), Buffer.from('abc'));
    assert.deepEqual(parse(ack(65535)), { ok: true, packet: { op: OP.ACK, block: 65535 } });
    assert.deepEqual(parse(error(ERR.NOT_FOUND, 'file not found')), { ok: true, packet: { op: OP.ERROR, code: 1, message: 'file not found' } });
    const o = parse(oack(new Map([['blksize', '1468'], ['windowsize', '16']])));
    assert.ok(o.ok && o.packet.op === OP.OACK);
    assert.deepEqual([...o.packet.options], [['blksize', '1468'], ['windowsize', '16']]);
    // An ERROR without its terminating NUL still has a message.
    assert.deepEqual(parse(Buffer.from('\0\x05\0\x02no', 'latin1')), { ok: true, packet: { op: OP.ERROR, code: 2, message: 'no' } });
  });

  it('says why a packet is malformed', () => {
    for (const [bytes, reason] of [
      [[0], 'packet shorter than an opcode'],
      [[0, 1, 0x61, 0], 'request without NUL-terminated filename and mode'],
      [[0, 1, 0x61, 0x62], 'request without NUL-terminated filename and mode'],
      [[0, 1, 0x61, 0, 0x6f, 0, 0x62, 0], 'option without a value'],
      [[0, 3, 0], 'DATA without block number'],
      [[0, 4, 0], 'ACK without block number'],
      [[0, 5, 0], 'ERROR without code'],
      [[0, 6, 0x61, 0], 'malformed OACK'],
      [[0, 6, 0x61], 'malformed OACK'],
      [[0, 9, 1, 2], 'unknown opcode 9'],
    ] as const) assert.deepEqual(parse(Buffer.from(bytes)), { ok: false, reason }, Buffer.from(bytes).toString('hex'));
  });

  it('returns a reason, never throws, for any bytes', () => {
    for (let i = 0; i < 20_000; i++) {
      const b = randomBytes(i % 40);
      if (i % 3 === 0 && b.length >= 2) b[0] = 0;
      const r = parse(b);
      assert.ok(r.ok || typeof r.reason === 'string');
    }
    assert.deepEqual(parse(Buffer.from([0, 1, 0x61])), { ok: false, reason: 'request without NUL-terminated filename and mode' });
  });
});

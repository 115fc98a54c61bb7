// TFTP packets: parsing never throws, names are UTF-8 with a latin1 fallback.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { OP, decodeName, parse, request } from './packet.ts';

describe('TFTP packets', () => {
  it('decodes names as UTF-8, and as latin1 when they are not UTF-8', () => {
    assert.equal(decodeName(Buffer.from('café.txt', 'utf8')), 'café.txt');
    assert.equal(decodeName(Buffer.from([0x63, 0x61, 0x66, 0xe9])), 'café');
    const p = parse(request(OP.RRQ, 'pxelinux.cfg/café', 'octet', { blksize: '1468' }));
    assert.ok(p.ok && p.packet.op === OP.RRQ);
    assert.equal(p.packet.filename, 'pxelinux.cfg/café');
    assert.equal(p.packet.options.get('blksize'), '1468');
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

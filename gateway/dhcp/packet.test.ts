// DHCP packets: a DISCOVER laid out byte by byte from RFC 2131/2132 and
// RFC 4578 parses to what firmware meant; what the encoder makes parses back;
// overload and long options follow RFC 2131 4.1 and RFC 3396; every malformed
// kind gets its problem code; and no input makes the parser throw.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CORPUS_KINDS, malformedPackets, pxeDiscover } from './corpus.ts';
import {
  BOOTREPLY, BOOTREQUEST, HEADER, MAGIC_COOKIE, MSG, OPT, encodeDhcp, encodeSubOptions, macOf, parseDhcp, parseSubOptions,
  type DhcpPacket, type Parsed,
} from './packet.ts';

const opt = (code: number, ...value: number[]): number[] => [code, value.length, ...value];
const ascii = (s: string): number[] => [...Buffer.from(s, 'latin1')];

/** Header fields of a DISCOVER from 52:54:00:12:34:56, broadcast flag set; `fill` replaces sname and file. */
function header(fill: Buffer = Buffer.alloc(192)): Buffer {
  return Buffer.concat([
    Buffer.from([BOOTREQUEST, 1, 6, 0, 0xde, 0xad, 0xbe, 0xef, 0, 4, 0x80, 0]),
    Buffer.alloc(16), // ciaddr, yiaddr, siaddr, giaddr
    Buffer.from([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]), Buffer.alloc(10),
    fill,
    Buffer.from([99, 130, 83, 99]),
  ]);
}

function ok(r: Parsed): DhcpPacket {
  assert.ok(r.ok, r.ok ? '' : `${r.problem}: ${r.message}`);
  return r.packet;
}

const uuid = Array.from({ length: 16 }, (_, i) => i + 1);

/** What iPXE on OVMF sends: options 53, 57, 55, 97, 93, 94, 60, then iPXE's 175 and user class 77. */
const ipxeDiscover = Buffer.concat([header(), Buffer.from([
  ...opt(53, 1),
  ...opt(57, 0x05, 0xdc),
  ...opt(55, 1, 3, 6, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203),
  ...opt(97, 0, ...uuid),
  ...opt(93, 0, 7),
  ...opt(94, 1, 3, 16),
  ...opt(60, ...ascii('PXEClient:Arch:00007:UNDI:003016')),
  ...opt(175, 0xb1, 5, 1, 0x80, 0x86, 0x10, 0x0e, 0x15, 1, 1),
  ...opt(77, ...ascii('iPXE')),
  255,
]), Buffer.alloc(20)]);

describe('DHCP packets', () => {
  it('reads a PXE DISCOVER as iPXE on OVMF sends it', () => {
    const p = ok(parseDhcp(ipxeDiscover));
    assert.equal(p.op, BOOTREQUEST);
    assert.equal(p.xid, 0xdeadbeef);
    assert.equal(p.secs, 4);
    assert.equal(p.flags, 0x8000);
    assert.equal(p.giaddr, '0.0.0.0');
    assert.equal(macOf(p), '52:54:00:12:34:56');
    assert.equal(p.file, '');
    assert.deepEqual([...p.options.keys()], [53, 57, 55, 97, 93, 94, 60, 175, 77]);
    assert.equal(p.options.get(OPT.MESSAGE_TYPE)![0], MSG.DISCOVER);
    assert.equal(p.options.get(OPT.CLIENT_ARCH)!.readUInt16BE(0), 7);
    assert.deepEqual([...p.options.get(OPT.CLIENT_UUID)!], [0, ...uuid]);
    assert.equal(p.options.get(OPT.VENDOR_CLASS)!.toString('latin1'), 'PXEClient:Arch:00007:UNDI:003016');
    assert.equal(p.options.get(OPT.USER_CLASS)!.toString('latin1'), 'iPXE');
  });

  it('builds a DISCOVER that reads back as the firmware it imitates', () => {
    const p = ok(parseDhcp(pxeDiscover({ mac: '52:54:00:aa:bb:cc', arch: 11, xid: 7 })));
    assert.equal(macOf(p), '52:54:00:aa:bb:cc');
    assert.equal(p.xid, 7);
    assert.equal(p.options.get(OPT.VENDOR_CLASS)!.toString(), 'PXEClient:Arch:00011:UNDI:003016');
    assert.equal(p.options.get(OPT.CLIENT_ARCH)!.readUInt16BE(0), 11);
    assert.equal(p.options.has(175), false);
    const i = ok(parseDhcp(pxeDiscover({ mac: '52:54:00:aa:bb:cc', arch: 0, ipxe: true, vendorClass: 'HTTPClient:Arch:00016' })));
    assert.equal(i.options.get(OPT.USER_CLASS)!.toString(), 'iPXE');
    assert.ok(i.options.has(175));
    assert.equal(i.options.get(OPT.VENDOR_CLASS)!.toString(), 'HTTPClient:Arch:00016');
  });

  it('encodes a reply that parses back to itself, padded to the BOOTP minimum', () => {
    const reply: DhcpPacket = {
      op: BOOTREPLY, htype: 1, hlen: 6, hops: 0, xid: 0xfeedface, secs: 0, flags: 0x8000,
      ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '192.0.2.1', giaddr: '0.0.0.0',
      chaddr: Buffer.from('525400123456' + '00'.repeat(10), 'hex'),
      sname: 'gw', file: 'debian-installer/arm64/grubaa64.efi',
      options: new Map([
        [OPT.MESSAGE_TYPE, Buffer.from([MSG.OFFER])],
        [OPT.SERVER_ID, Buffer.from([192, 0, 2, 1])],
        [OPT.VENDOR_CLASS, Buffer.from('PXEClient')],
        [OPT.VENDOR_SPECIFIC, encodeSubOptions(new Map([[6, Buffer.from([8])]]))],
        [OPT.CLIENT_UUID, Buffer.from([0, ...uuid])],
      ]),
    };
    const bytes = encodeDhcp(reply);
    assert.equal(bytes.length, 300);
    assert.deepEqual(ok(parseDhcp(bytes)), reply);
    assert.deepEqual([...reply.options.get(OPT.VENDOR_SPECIFIC)!], [6, 1, 8, 255]);
    assert.deepEqual(parseSubOptions(reply.options.get(OPT.VENDOR_SPECIFIC)!), new Map([[6, Buffer.from([8])]]));
    assert.equal(parseSubOptions(Buffer.from([6, 5, 8])), null);
    assert.throws(() => encodeDhcp({ ...reply, file: 'x'.repeat(128) }), RangeError);
    assert.throws(() => encodeDhcp({ ...reply, siaddr: '192.0.2' }), RangeError);
    assert.throws(() => encodeSubOptions(new Map([[71, Buffer.alloc(256)]])), RangeError);
  });

  it('lays the header out as RFC 2131 2 does: sname at 44, file at 108, the cookie 99.130.83.99 at 236, options at 240', () => {
    assert.deepEqual(HEADER, { sname: { at: 44, bytes: 64 }, file: { at: 108, bytes: 128 }, cookieAt: 236, optionsAt: 240 });
    assert.deepEqual([...Buffer.from(MAGIC_COOKIE.toString(16), 'hex')], [99, 130, 83, 99]);
  });

  it('splits a 600-byte option into 255-byte instances and joins them back (RFC 3396)', () => {
    const long = Buffer.from(Array.from({ length: 600 }, (_, i) => i % 251));
    const bytes = encodeDhcp({ ...ok(parseDhcp(ipxeDiscover)), options: new Map([[OPT.VENDOR_SPECIFIC, long], [OPT.MESSAGE_TYPE, Buffer.from([1])]]) });
    // 43/255, 43/255, 43/90, 53/1, END
    assert.deepEqual([bytes[240], bytes[241], bytes[240 + 257], bytes[240 + 258], bytes[240 + 514], bytes[240 + 515]], [43, 255, 43, 255, 43, 90]);
    assert.equal(bytes[240 + 516 + 90], 53);
    assert.deepEqual(ok(parseDhcp(bytes)).options.get(OPT.VENDOR_SPECIFIC), long);
  });

  it('reads options overloaded into file and sname, file first (RFC 2131 4.1)', () => {
    const fill = Buffer.alloc(192);
    fill.set([...opt(60, ...ascii('PXEClient')), ...opt(43, 2), 255], 0); // sname
    fill.set([...opt(43, 1), ...opt(93, 0, 0), 255], 64); // file
    const p = ok(parseDhcp(Buffer.concat([header(fill), Buffer.from([...opt(53, 1), ...opt(52, 3), ...opt(43, 0), 255])])));
    assert.equal(p.sname, '');
    assert.equal(p.file, '');
    assert.deepEqual([...p.options.get(OPT.VENDOR_SPECIFIC)!], [0, 1, 2], 'options field, then file, then sname');
    assert.equal(p.options.get(OPT.VENDOR_CLASS)!.toString(), 'PXEClient');
    assert.equal(p.options.has(OPT.OVERLOAD), false);
    // Overloading only file leaves sname as text.
    const only = Buffer.alloc(192);
    only.write('boot-server', 0);
    only.set([...opt(93, 0, 7), 255], 64);
    const q = ok(parseDhcp(Buffer.concat([header(only), Buffer.from([...opt(52, 1), 255])])));
    assert.equal(q.sname, 'boot-server');
    assert.equal(q.options.get(OPT.CLIENT_ARCH)!.readUInt16BE(0), 7);
  });

  it('takes options that run to the end without END when nothing is overloaded, as dnsmasq does', () => {
    const p = ok(parseDhcp(Buffer.concat([header(), Buffer.from(opt(53, 1))])));
    assert.equal(p.options.get(OPT.MESSAGE_TYPE)![0], 1);
    assert.equal(ok(parseDhcp(header())).options.size, 0);
  });

  it('names what is wrong with each malformed packet', () => {
    const withFile = (file: number[], options: number[]): Buffer => {
      const fill = Buffer.alloc(192);
      fill.set(file, 64);
      return Buffer.concat([header(fill), Buffer.from(options)]);
    };
    const cases: [string, Buffer, string][] = [
      ['empty', Buffer.alloc(0), 'short'],
      ['header without cookie', ipxeDiscover.subarray(0, 236), 'short'],
      ['wrong cookie', Buffer.concat([header().subarray(0, 236), Buffer.from([99, 130, 83, 98, 255])]), 'cookie'],
      ['length byte missing', Buffer.concat([header(), Buffer.from([53])]), 'option-overrun'],
      ['length past the end', Buffer.concat([header(), Buffer.from([53, 1, 1, 60, 9, 0x50])]), 'option-overrun'],
      ['overrun inside file', withFile([93, 200, 0], [...opt(52, 1), 255]), 'option-overrun'],
      ['overload 0', Buffer.concat([header(), Buffer.from([...opt(52, 0), 255])]), 'bad-overload'],
      ['overload of 2 bytes', Buffer.concat([header(), Buffer.from([...opt(52, 1, 1), 255])]), 'bad-overload'],
      ['overload twice', Buffer.concat([header(), Buffer.from([...opt(52, 1), ...opt(52, 1), 255])]), 'bad-overload'],
      ['overload inside file', withFile([...opt(52, 3), 255], [...opt(52, 1), 255]), 'bad-overload'],
      ['overloaded, options field without END', withFile([255], opt(52, 1)), 'no-end'],
      ['overloaded file without END', withFile([], [...opt(52, 1), 255]), 'no-end'],
      ['token ring', Buffer.concat([Buffer.from([1, 6, 6]), header().subarray(3)]), 'not-ethernet'],
      ['hlen 16', Buffer.concat([Buffer.from([1, 1, 16]), header().subarray(3)]), 'not-ethernet'],
    ];
    for (const [name, bytes, problem] of cases) {
      const r = parseDhcp(bytes);
      assert.equal(r.ok ? 'ok' : r.problem, problem, name);
      assert.ok(r.ok || (r.message.length > 0 && !r.message.includes('\n')), name);
    }
  });

  it('gives each corpus kind its expected outcome', () => {
    const seen = new Set<string>();
    for (const { kind, bytes } of malformedPackets(13, 2_000)) {
      seen.add(kind);
      const expected = CORPUS_KINDS[kind];
      const r = parseDhcp(bytes);
      if (expected !== null) assert.equal(r.ok ? 'ok' : r.problem, expected, `${kind}: ${bytes.toString('hex').slice(0, 80)}`);
      if (kind === 'bootreply' && r.ok) assert.equal(r.packet.op, BOOTREPLY);
      if (kind === 'huge-option-43' && r.ok) assert.equal(r.packet.options.get(OPT.VENDOR_SPECIFIC)!.length % 255, 0);
    }
    assert.deepEqual([...seen].sort(), Object.keys(CORPUS_KINDS).sort());
  });

  it('the corpus is the same for the same seed', () => {
    const a = [...malformedPackets(5, 50)].map((p) => p.bytes.toString('hex'));
    const b = [...malformedPackets(5, 50)].map((p) => p.bytes.toString('hex'));
    const c = [...malformedPackets(6, 50)].map((p) => p.bytes.toString('hex'));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it('parses 100,000 corpus packets without throwing', () => {
    const outcomes = new Map<string, number>();
    for (const { bytes } of malformedPackets(1, 100_000)) {
      const r = parseDhcp(bytes);
      const key = r.ok ? 'ok' : r.problem;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    }
    assert.equal([...outcomes.values()].reduce((a, b) => a + b), 100_000);
    // Every problem code occurs, and so do packets that parse.
    assert.deepEqual([...outcomes.keys()].sort(), ['bad-overload', 'cookie', 'no-end', 'not-ethernet', 'ok', 'option-overrun', 'short']);
  });
});

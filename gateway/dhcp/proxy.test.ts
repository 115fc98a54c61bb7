import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pxeDiscover } from './corpus.ts';
import { BOOTREPLY, MSG, OPT, encodeDhcp, parseDhcp, parseSubOptions, type DhcpPacket } from './packet.ts';
import { proxyAnswer, proxySettings, type ProxyAnswer, type ProxySettings } from './proxy.ts';

const S: ProxySettings = { serverIp: '192.168.151.1', bootIpxeUrl: 'http://192.168.151.1/boot.ipxe', httpBase: 'http://192.168.151.1' };
const MAC = '52:54:00:aa:bb:01';
const CLIENT = { address: '0.0.0.0', port: 68 };

function packet(bytes: Buffer): DhcpPacket {
  const r = parseDhcp(bytes);
  assert.ok(r.ok, 'the request parses');
  return r.packet;
}

const discover = (o: Partial<Parameters<typeof pxeDiscover>[0]> = {}): DhcpPacket => packet(pxeDiscover({ mac: MAC, arch: 0, ...o }));

/** `p` as a REQUEST from a client that has its lease, as sent to port 4011. */
function asRequest(p: DhcpPacket, ciaddr = '192.168.151.60'): DhcpPacket {
  return { ...p, ciaddr, flags: 0, options: new Map([...p.options, [OPT.MESSAGE_TYPE, Buffer.from([MSG.REQUEST])]]) };
}

function reply(a: ProxyAnswer): Extract<ProxyAnswer, { kind: 'reply' }> {
  assert.equal(a.kind, 'reply', a.kind === 'ignore' ? a.why : '');
  return a as Extract<ProxyAnswer, { kind: 'reply' }>;
}

describe('proxySettings', () => {
  it('sends clients of HTTP on 0.0.0.0 to the interface address, and names a port other than 80', () => {
    assert.deepEqual(proxySettings('192.168.151.1', { host: '0.0.0.0', port: 80 }), S);
    assert.deepEqual(proxySettings('192.168.151.1', { host: '192.168.151.1', port: 8080 }),
      { serverIp: '192.168.151.1', bootIpxeUrl: 'http://192.168.151.1:8080/boot.ipxe', httpBase: 'http://192.168.151.1:8080' });
  });
});

describe('proxyAnswer', () => {
  it('offers BIOS PXE undionly.kpxe over TFTP, broadcast, with no address and the PXE options', () => {
    const req = discover();
    const r = reply(proxyAnswer(req, 67, CLIENT, S));
    const p = r.packet;
    assert.equal(p.op, BOOTREPLY);
    assert.equal(p.xid, req.xid);
    assert.deepEqual(p.chaddr, req.chaddr);
    assert.equal(p.yiaddr, '0.0.0.0');
    assert.equal(p.siaddr, S.serverIp);
    assert.equal(p.file, 'undionly.kpxe');
    assert.equal(p.flags & 0x8000, 0x8000);
    assert.deepEqual(r.to, { address: '255.255.255.255', port: 68 });
    assert.deepEqual(p.options.get(OPT.MESSAGE_TYPE), Buffer.from([MSG.OFFER]));
    assert.deepEqual(p.options.get(OPT.SERVER_ID), Buffer.from([192, 168, 151, 1]));
    assert.equal(p.options.get(OPT.VENDOR_CLASS)?.toString(), 'PXEClient');
    assert.deepEqual(p.options.get(OPT.CLIENT_UUID), req.options.get(OPT.CLIENT_UUID));
    assert.deepEqual(parseSubOptions(p.options.get(OPT.VENDOR_SPECIFIC)!), new Map([[6, Buffer.from([8])]]));
    assert.equal(r.summary, `dhcp ${MAC} bios PXEClient -> undionly.kpxe (port 67)`);
  });

  it('gives each firmware its chainloader by option 93, and iPXE the /boot.ipxe URL whatever its arch', () => {
    const file = (req: DhcpPacket): string => reply(proxyAnswer(req, 67, CLIENT, S)).packet.file;
    assert.equal(file(discover({ arch: 7 })), 'ipxe.efi');
    assert.equal(file(discover({ arch: 9 })), 'ipxe.efi');
    assert.equal(file(discover({ arch: 11 })), 'debian-installer/arm64/grubaa64.efi');
    assert.equal(file(discover({ arch: 0, ipxe: true })), S.bootIpxeUrl);
    assert.equal(file(discover({ arch: 7, ipxe: true })), S.bootIpxeUrl);
    // Option 175 alone, and the user class alone, each mark iPXE.
    const only = (code: number): DhcpPacket => {
      const p = discover({ arch: 7, ipxe: true });
      p.options.delete(code);
      return p;
    };
    assert.equal(file(only(OPT.USER_CLASS)), S.bootIpxeUrl);
    assert.equal(file(only(175)), S.bootIpxeUrl);
    const rfc3004 = discover({ arch: 7 });
    rfc3004.options.set(OPT.USER_CLASS, Buffer.from('\x04iPXE', 'latin1'));
    assert.equal(file(rfc3004), S.bootIpxeUrl);
    const noArch = discover();
    noArch.options.delete(OPT.CLIENT_ARCH);
    assert.equal(file(noArch), 'undionly.kpxe', 'no option 93 is BIOS');
  });

  it('sends UEFI HTTP Boot clients an http:// URL, with HTTPClient and no PXE options', () => {
    const r = reply(proxyAnswer(discover({ arch: 16, vendorClass: 'HTTPClient:Arch:00016:UNDI:003001' }), 67, CLIENT, S));
    assert.equal(r.packet.file, 'http://192.168.151.1/ipxe.efi');
    assert.equal(r.packet.options.get(OPT.VENDOR_CLASS)?.toString(), 'HTTPClient');
    assert.equal(r.packet.options.has(OPT.VENDOR_SPECIFIC), false);
    const arm = reply(proxyAnswer(discover({ arch: 19, vendorClass: 'HTTPClient:Arch:00019' }), 67, CLIENT, S));
    assert.equal(arm.packet.file, 'http://192.168.151.1/debian-installer/arm64/grubaa64.efi');
  });

  it('answers a REQUEST on 4011 with an ACK to the sender, keeping ciaddr', () => {
    const from = { address: '192.168.151.60', port: 68 };
    const r = reply(proxyAnswer(asRequest(discover({ arch: 7 })), 4011, from, S));
    assert.deepEqual(r.to, from);
    assert.deepEqual(r.packet.options.get(OPT.MESSAGE_TYPE), Buffer.from([MSG.ACK]));
    assert.equal(r.packet.ciaddr, '192.168.151.60');
    assert.equal(r.packet.yiaddr, '0.0.0.0');
    assert.equal(r.packet.file, 'ipxe.efi');
    assert.match(r.summary, /\(port 4011\)$/);
  });

  it('answers a relayed DISCOVER through the relay, giaddr kept', () => {
    const req = { ...discover({ arch: 7 }), giaddr: '10.151.0.1', hops: 1 };
    const r = reply(proxyAnswer(req, 67, { address: '10.151.0.1', port: 67 }, S));
    assert.deepEqual(r.to, { address: '10.151.0.1', port: 67 });
    assert.equal(r.packet.giaddr, '10.151.0.1');
    assert.equal(r.packet.flags & 0x8000, 0x8000, 'the relay is asked to broadcast: the client has no address');
  });

  it('unicasts an OFFER to a client that already has an address', () => {
    const req = { ...discover({ arch: 7 }), ciaddr: '192.168.151.61' };
    assert.deepEqual(reply(proxyAnswer(req, 67, CLIENT, S)).to, { address: '192.168.151.61', port: 68 });
  });

  it('ignores what is not a PXE or HTTP boot DISCOVER on 67 or REQUEST on 4011', () => {
    const why = (req: DhcpPacket, port: 67 | 4011 = 67): string => {
      const a = proxyAnswer(req, port, CLIENT, S);
      assert.equal(a.kind, 'ignore');
      return a.kind === 'ignore' ? a.reason : '';
    };
    const plain = discover();
    plain.options.delete(OPT.VENDOR_CLASS);
    assert.equal(why(plain), 'not-boot-client');
    assert.equal(why(discover({ vendorClass: 'MSFT 5.0' })), 'not-boot-client');
    assert.equal(why(discover({ vendorClass: 'pxeclient' })), 'not-boot-client');
    assert.equal(why({ ...discover(), op: BOOTREPLY }), 'not-request');
    assert.equal(why(asRequest(discover())), 'message-type', 'REQUEST on 67 belongs to the DHCP server');
    assert.equal(why(discover(), 4011), 'message-type');
    const noType = discover();
    noType.options.delete(OPT.MESSAGE_TYPE);
    assert.equal(why(noType), 'message-type', 'BOOTP, no message type');
    assert.equal(why(discover({ arch: 6 })), 'unknown-arch');
    assert.equal(why(discover({ arch: 16 })), 'unknown-arch', 'an HTTP Boot code from a PXEClient');
    assert.equal(why(discover({ arch: 7, vendorClass: 'HTTPClient' })), 'unknown-arch', 'a PXE code from an HTTPClient');
    assert.equal(why({ ...discover(), giaddr: '0.0.0.4' }), 'bad-address');
    assert.equal(why({ ...discover(), giaddr: '255.255.255.255' }), 'bad-address');
    assert.equal(why({ ...discover(), ciaddr: '127.0.0.1' }), 'bad-address');
    assert.equal(why({ ...discover(), ciaddr: '224.0.0.1' }), 'bad-address');
    const shortArch = discover();
    shortArch.options.set(OPT.CLIENT_ARCH, Buffer.from([7]));
    assert.equal(why(shortArch), 'unknown-arch');
  });

  it('builds replies the codec encodes and parses back unchanged', () => {
    for (const req of [discover(), discover({ arch: 11 }), discover({ arch: 7, ipxe: true })]) {
      const r = reply(proxyAnswer(req, 67, CLIENT, S));
      const back = parseDhcp(encodeDhcp(r.packet));
      assert.ok(back.ok);
      assert.equal(back.packet.file, r.packet.file);
      assert.deepEqual([...back.packet.options.keys()], [...r.packet.options.keys()]);
    }
  });
});

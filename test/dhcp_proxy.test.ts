// `icboot gateway --dhcp proxy` as a LAN sees it: a namespace with a bridge,
// dnsmasq handing out addresses only (as lab/pxe.ts runs it), the devnet and
// the gateway; a second namespace on the bridge's other side plays the DHCP
// clients with real broadcasts from port 68 (lab/dhcp_peer.ts).
// Needs root, iproute2 and dnsmasq.
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pxeDiscover, type DiscoverOptions } from '../gateway/dhcp/corpus.ts';
import { BOOTREPLY, MSG, OPT, encodeDhcp, parseDhcp, parseSubOptions, type DhcpPacket } from '../gateway/dhcp/packet.ts';
import { REPO, tempDir } from '../lab/devnet.ts';
import { DhcpPeer } from '../lab/dhcp_peer_driver.ts';
import { Netns } from '../lab/netns.ts';
import { PollTimeout, until } from '../lab/poll.ts';
import { socketsOn } from '../lab/proc_net.ts';
import { stopChild } from '../lab/process.ts';
import { PxeLab } from '../lab/pxe.ts';

const ICBOOT = join(REPO, 'cli', 'icboot.js');
const SERVER_IP = '192.168.151.1';
const CLIENT_IP = '192.168.151.200';
/** Generous: the machine running this may be loaded. */
const DEADLINE_MS = 30_000;
const FLOOD = 10_000;

/** This test's namespaces: icboot-dhcpS-PID (the server's) and icboot-dhcpS-PID-c (the client's), without the PXE lab's bridge. */
const NETNS_PREFIX = 'icboot-dhcpS';
/** The client's sockets (dhcp_peer.ts), by `via`: 0 a PXE client's, 1 any port, 2 a relay's. */
const PEER_SOCKETS = ['0.0.0.0:68', `${CLIENT_IP}:0`, `${CLIENT_IP}:67`];

/** A proxyDHCP answer: yiaddr 0 and a vendor class (dnsmasq's leases have an address and no option 60 here). */
const fromProxy = (p: DhcpPacket): boolean => p.op === BOOTREPLY && p.yiaddr === '0.0.0.0' && p.options.has(OPT.VENDOR_CLASS);
const type = (p: DhcpPacket): number | undefined => p.options.get(OPT.MESSAGE_TYPE)?.[0];

function packetOf(bytes: Buffer): DhcpPacket {
  const r = parseDhcp(bytes);
  assert.ok(r.ok);
  return r.packet;
}

describe('gateway --dhcp proxy beside a DHCP server that hands out addresses only', { timeout: 110_000 }, () => {
  const work = tempDir('dhcp-proxy');
  const ns = new Netns(false, '', NETNS_PREFIX);
  const clientNs = new Netns(false, '-c', NETNS_PREFIX);
  const lab = new PxeLab(work, ns);
  const tree = join(work, 'tree');
  let xid = 0x5000;
  let gateway: ChildProcess | null = null;
  let dnsmasq: ChildProcess | null = null;
  let peer: DhcpPeer | null = null;
  const gatewayLog = (): string => (existsSync(lab.log('gateway.log')) ? readFileSync(lab.log('gateway.log'), 'utf8') : '');

  /** Whether a socket in the server namespace is bound to UDP `port` (per /proc/net/udp as seen from inside). */
  const udpBound = (port: number): boolean => socketsOn(ns.run('cat', ['/proc/net/udp']), port).length > 0;

  function startDnsmasq(extra: string[]): ChildProcess {
    return ns.spawn('dnsmasq', ['--no-daemon', '--port=0', '--interface=br0', '--log-dhcp', '--no-ping',
      '--dhcp-range=192.168.151.50,192.168.151.99,12h', `--dhcp-leasefile=${lab.log('leases')}`, ...extra], lab.log('dnsmasq.log'));
  }

  /** `icboot gateway ARGS` in the server namespace, to completion: its exit code and output. */
  function gatewayRun(args: string[]): { code: number | null; stdout: string; stderr: string } {
    const r = spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, ICBOOT, 'gateway', ...args],
      { env: lab.env, cwd: work, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** Sends a DISCOVER as a real broadcast from port 68; resolves with the proxy's OFFER for it. */
  async function offerFor(o: Omit<DiscoverOptions, 'xid'>): Promise<{ req: DhcpPacket; offer: DhcpPacket }> {
    const bytes = pxeDiscover({ ...o, xid: ++xid });
    peer!.send({ via: 0, to: '255.255.255.255', port: 67, hex: bytes.toString('hex') });
    const want = xid;
    const offer = await peer!.next(0, (p) => p.xid === want && fromProxy(p), `the proxy's OFFER to ${o.mac}`);
    return { req: packetOf(bytes), offer };
  }

  before(async () => {
    for (const [path, size] of [['undionly.kpxe', 70_000], ['ipxe.efi', 1_000_000], ['debian-installer/arm64/grubaa64.efi', 50_000]] as const) {
      mkdirSync(join(tree, path, '..'), { recursive: true });
      writeFileSync(join(tree, path), randomBytes(size));
    }
    await lab.setup(tree);
    clientNs.create();
    ns.ip('link', 'add', 'br0', 'type', 'bridge');
    ns.ip('addr', 'add', `${SERVER_IP}/24`, 'dev', 'br0');
    ns.ip('link', 'set', 'br0', 'up');
    ns.ip('link', 'add', 'c0p', 'type', 'veth', 'peer', 'name', 'c0', 'netns', clientNs.name);
    ns.ip('link', 'set', 'c0p', 'master', 'br0');
    ns.ip('link', 'set', 'c0p', 'up');
    clientNs.ip('addr', 'add', `${CLIENT_IP}/24`, 'dev', 'c0');
    clientNs.ip('link', 'set', 'c0', 'up');
    // A limited broadcast needs a route out, as a DHCP client's raw socket would not.
    clientNs.ip('route', 'add', 'default', 'dev', 'c0');

    dnsmasq = startDnsmasq(['--bind-interfaces']);
    await until(() => udpBound(67), 'dnsmasq bound to UDP port 67', DEADLINE_MS, 100);
    gateway = ns.spawn(process.execPath, [ICBOOT, 'gateway', '--tftp', `${SERVER_IP}:69`, '--http', `${SERVER_IP}:80`,
      '--dhcp', 'proxy', '--dhcp-interface', 'br0', '--cache-dir', join(work, 'cache')], lab.log('gateway.log'), lab.env, work);
    await until(() => /^dhcp proxy listening on br0 \(192\.168\.151\.1\) ports 67 and 4011$/m.test(gatewayLog()), 'the proxy listening', 60_000, 100);
    peer = await DhcpPeer.start(clientNs, PEER_SOCKETS, DEADLINE_MS);
  });

  after(async () => {
    await peer?.stop();
    await clientNs.destroy();
    await lab.destroy();
    if (!process.env.ICBOOT_KEEP_E2E) rmSync(work, { recursive: true, force: true });
  });

  it('offers each firmware its boot file, with no address, PXE options, the server and the client UUID', async () => {
    const cases: [Omit<DiscoverOptions, 'xid'>, string, string][] = [
      [{ mac: '52:54:00:d1:00:01', arch: 0 }, 'undionly.kpxe', 'PXEClient'],
      [{ mac: '52:54:00:d1:00:02', arch: 7 }, 'ipxe.efi', 'PXEClient'],
      [{ mac: '52:54:00:d1:00:03', arch: 11 }, 'debian-installer/arm64/grubaa64.efi', 'PXEClient'],
      [{ mac: '52:54:00:d1:00:04', arch: 0, ipxe: true }, `http://${SERVER_IP}/boot.ipxe`, 'PXEClient'],
      [{ mac: '52:54:00:d1:00:05', arch: 16, vendorClass: 'HTTPClient:Arch:00016:UNDI:003000' }, `http://${SERVER_IP}/ipxe.efi`, 'HTTPClient'],
    ];
    for (const [o, file, cls] of cases) {
      const { req, offer } = await offerFor(o);
      assert.equal(type(offer), MSG.OFFER);
      assert.equal(offer.file, file, o.mac);
      assert.equal(offer.siaddr, SERVER_IP);
      assert.deepEqual(offer.chaddr, req.chaddr);
      assert.equal(offer.options.get(OPT.VENDOR_CLASS)?.toString(), cls);
      assert.deepEqual(offer.options.get(OPT.SERVER_ID), Buffer.from([192, 168, 151, 1]));
      assert.deepEqual(offer.options.get(OPT.CLIENT_UUID), req.options.get(OPT.CLIENT_UUID));
      const pxe = offer.options.get(OPT.VENDOR_SPECIFIC);
      if (cls === 'PXEClient') assert.deepEqual(parseSubOptions(pxe!), new Map([[6, Buffer.from([8])]]), 'discovery control: take the boot file');
      else assert.equal(pxe, undefined);
      assert.match(gatewayLog(), new RegExp(`^.* dhcp ${o.mac} \\S+ ${o.ipxe ? 'iPXE' : cls} -> ${file.replace(/\./g, '\\.')} \\(port 67\\)$`, 'm'));
    }
  });

  it('answers a REQUEST on port 4011 with an ACK to where it came from', async () => {
    const req = packetOf(pxeDiscover({ mac: '52:54:00:d1:00:06', arch: 7, xid: ++xid }));
    req.ciaddr = CLIENT_IP;
    req.flags = 0;
    req.options.set(OPT.MESSAGE_TYPE, Buffer.from([MSG.REQUEST]));
    peer!.send({ via: 1, to: SERVER_IP, port: 4011, hex: encodeDhcp(req).toString('hex') });
    const want = xid;
    const ack = await peer!.next(1, (p, r) => p.xid === want && r.from === SERVER_IP && r.port === 4011, 'the ACK from port 4011');
    assert.equal(type(ack), MSG.ACK);
    assert.equal(ack.file, 'ipxe.efi');
    assert.equal(ack.ciaddr, CLIENT_IP);
    assert.equal(ack.yiaddr, '0.0.0.0');
  });

  it('sends nothing to a client that is not PXEClient or HTTPClient: it gets dnsmasq\'s lease only', async () => {
    const plain = packetOf(pxeDiscover({ mac: '52:54:00:d1:00:07', arch: 0, xid: ++xid }));
    plain.options.delete(OPT.VENDOR_CLASS);
    plain.options.delete(OPT.CLIENT_ARCH);
    const plainXid = xid;
    peer!.send({ via: 0, to: '255.255.255.255', port: 67, hex: encodeDhcp(plain).toString('hex') });
    const lease = await peer!.next(0, (p) => p.xid === plainXid && type(p) === MSG.OFFER, 'dnsmasq\'s OFFER');
    assert.match(lease.yiaddr, /^192\.168\.151\.\d+$/);
    // The proxy reads port 67 in order: once it has answered a later DISCOVER, it has decided on this one.
    await offerFor({ mac: '52:54:00:d1:00:08', arch: 0 });
    assert.equal(peer!.received.filter((r) => r.packet?.xid === plainXid).length, 1, 'one answer, from dnsmasq');
    assert.doesNotMatch(gatewayLog(), / dhcp 52:54:00:d1:00:07 /);
  });

  it('counts each answer it sent in /metrics', () => {
    // Before the flood, whose packets the proxy partly answers too: each exchange above was awaited, so every answer arrived.
    const answers = peer!.received.filter((r) => r.from === SERVER_IP && r.packet && fromProxy(r.packet)).length;
    assert.ok(answers >= 7, `the exchanges above got ${answers} answers`);
    const scrape = ns.run('curl', ['-sS', '--max-time', '30', `http://${SERVER_IP}/metrics`]);
    assert.match(scrape, new RegExp(`^icboot_gateway_proxydhcp_offers_total ${answers}$`, 'm'));
  });

  it(`keeps answering after ${FLOOD} malformed packets on port 67 and as many on 4011`, async () => {
    const rss = (): string => /VmRSS:\s*(\d+ kB)/.exec(readFileSync(`/proc/${gateway!.pid}/status`, 'utf8'))?.[1] ?? '?';
    const before = rss();
    const logBefore = gatewayLog().length;
    await Promise.all([peer!.flood(1, '255.255.255.255', 67, 13, FLOOD), peer!.flood(1, SERVER_IP, 4011, 14, FLOOD)]);
    // The flood arrived: the gateway logged each kind below (throttled per kind, so from whichever port came first).
    const peerAt = `${CLIENT_IP.replace(/\./g, '\\.')}:\\d+`;
    const dropped = (why: string): RegExp => new RegExp(`dhcp: dropped a malformed packet from ${peerAt} on port \\d+: ${why}`);
    const logged: Record<string, RegExp> = {
      'truncated header': dropped('\\d+ bytes, shorter than a DHCP header'),
      'wrong magic cookie': dropped('magic cookie '),
      'bad option 52': dropped('option 52 \\(overload\\)'),
      'BOOTREPLY': new RegExp(`dhcp: no answer to \\S+ \\(${peerAt}, port \\d+\\): not a BOOTREQUEST`),
    };
    const missing = (): string[] => {
      const since = gatewayLog().slice(logBefore);
      return Object.keys(logged).filter((k) => !logged[k].test(since));
    };
    await until(() => missing().length === 0, 'a log line for each kind', DEADLINE_MS, 100).catch((e: unknown) => {
      if (!(e instanceof PollTimeout)) throw e;
    });
    assert.deepEqual(missing(), [], 'kinds of malformed packet the gateway logged nothing about');
    const { offer } = await offerFor({ mac: '52:54:00:d1:00:09', arch: 7 });
    assert.equal(offer.file, 'ipxe.efi');
    assert.equal(gateway!.exitCode, null, 'the gateway is still running');
    console.log(`gateway RSS before the flood ${before}, after ${rss()}; log lines about dropped packets: ${gatewayLog().match(/dhcp: dropped/g)?.length ?? 0}`);
  });

  it('answers a relayed DISCOVER through the relay (giaddr), when no DHCP server on its interface takes unicasts first', async () => {
    // dnsmasq's socket, bound to br0, receives every unicast to port 67 there: stop it for this one.
    await stopChild(dnsmasq!, 'SIGTERM');
    const relayed = packetOf(pxeDiscover({ mac: '52:54:00:d1:00:0a', arch: 11, xid: ++xid }));
    relayed.giaddr = CLIENT_IP;
    relayed.hops = 1;
    relayed.flags = 0;
    const want = xid;
    peer!.send({ via: 2, to: SERVER_IP, port: 67, hex: encodeDhcp(relayed).toString('hex') });
    const offer = await peer!.next(2, (p) => p.xid === want, 'the OFFER sent to the relay');
    assert.equal(offer.giaddr, CLIENT_IP);
    assert.equal(offer.file, 'debian-installer/arm64/grubaa64.efi');
    assert.equal(offer.flags & 0x8000, 0x8000, 'the relay is asked to broadcast it');
  });

  it('exits with one clear line without --http, with --http elsewhere, with --dhcp-interface alone, with an unknown interface, and with port 67 held by a server that does not share it', async () => {
    await stopChild(gateway!, 'SIGTERM');
    const oneLine = (r: { code: number | null; stderr: string }, what: RegExp): void => {
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('icboot: '));
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], what);
    };
    oneLine(gatewayRun(['--tftp', `${SERVER_IP}:69`, '--dhcp', 'proxy', '--dhcp-interface', 'br0']), /--http/);
    // Clients are sent to the interface's address, where an HTTP server on 127.0.0.1 is not.
    oneLine(gatewayRun(['--tftp', `${SERVER_IP}:69`, '--http', '127.0.0.1:80', '--dhcp', 'proxy', '--dhcp-interface', 'br0']),
      /--http is 127\.0\.0\.1:80: use --http 192\.168\.151\.1:80 or 0\.0\.0\.0:80$/);
    oneLine(gatewayRun(['--tftp', `${SERVER_IP}:69`, '--http', `${SERVER_IP}:80`, '--dhcp-interface', 'br0']), /add --dhcp proxy/);
    oneLine(gatewayRun(['--tftp', `${SERVER_IP}:69`, '--http', `${SERVER_IP}:80`, '--dhcp', 'proxy', '--dhcp-interface', 'nope0']), /nope0: no such interface/);
    // dnsmasq without --bind-interfaces (or --bind-dynamic) holds 0.0.0.0:67 alone.
    dnsmasq = startDnsmasq([]);
    await until(() => udpBound(67), 'dnsmasq bound to UDP port 67', DEADLINE_MS, 100);
    const held = gatewayRun(['--tftp', `${SERVER_IP}:69`, '--http', `${SERVER_IP}:80`, '--dhcp', 'proxy', '--dhcp-interface', 'br0']);
    oneLine(held, /UDP port 67 .* held by a DHCP server that does not share it/);
    assert.doesNotMatch(held.stdout, /dhcp proxy listening/);
  });
});

// Run inside a client's network namespace: prints every DHCP packet that
// reaches UDP port 68 there as one JSON line, until it is ended. It shares
// the port with the DHCP client under test (which receives on a raw socket),
// so a test can see each server's answers, not only the lease the client took.
import { createSocket } from 'node:dgram';
import { CLIENT_PORT, MSG, OPT, parseDhcp } from '../gateway/dhcp/packet.ts';

/** What a test needs to tell the answering servers apart. */
export interface CapturedPacket {
  from: string;
  op: number;
  /** DHCP message type name (OFFER, ACK, ...), or the number when unknown. */
  type: string;
  yiaddr: string;
  siaddr: string;
  /** Option 60, e.g. `PXEClient` on a proxyDHCP answer; '' when absent. */
  vendorClass: string;
  file: string;
}

const names = new Map<number, string>(Object.entries(MSG).map(([k, v]) => [v, k]));

const socket = createSocket({ type: 'udp4', reuseAddr: true });
socket.on('message', (buf, rinfo) => {
  const r = parseDhcp(buf);
  if (!r.ok) return;
  const p = r.packet;
  const type = p.options.get(OPT.MESSAGE_TYPE)?.[0];
  const line: CapturedPacket = {
    from: `${rinfo.address}:${rinfo.port}`, op: p.op, type: type === undefined ? '' : names.get(type) ?? String(type),
    yiaddr: p.yiaddr, siaddr: p.siaddr, vendorClass: p.options.get(OPT.VENDOR_CLASS)?.toString('latin1') ?? '', file: p.file,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
});
socket.bind(CLIENT_PORT, '0.0.0.0', () => process.stdout.write('capturing\n'));
process.on('SIGTERM', () => socket.close(() => process.exit(0)));

// The proxyDHCP server: UDP sockets on ports 67 and 4011 of one interface,
// each datagram parsed, decided by proxyAnswer, and answered or dropped.
// Nothing a client sends can stop it: bad packets are counted in throttled
// log lines, never thrown. Socket choices are explained in docs/dhcp.md,
// "Sockets, and sharing port 67".
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { UserError } from '../../common/errors.ts';
import { LogThrottle, printable } from '../log.ts';
import { CLIENT_PORT, PXE_PORT, SERVER_PORT, encodeDhcp, macOf, parseDhcp } from './packet.ts';
import { proxyAnswer, type ProxySettings } from './proxy.ts';

export interface ProxyDhcpOptions {
  /** The interface served, for log lines; its address is settings.serverIp. */
  interface: string;
  settings: ProxySettings;
  log: (line: string) => void;
  /** Each answer sent: the client's address (null before it has one) and MAC address. */
  offered?: (ip: string | null, mac: string | null) => void;
}

export interface ProxyDhcp {
  close(): Promise<void>;
}

/** `in-use`: another server holds the port without sharing it. `no-permission`: ports below 1024 need privileges. */
export type DhcpPortProblem = 'in-use' | 'no-permission';

export class DhcpPortError extends UserError {
  constructor(readonly problem: DhcpPortProblem, message: string) {
    super(message);
  }
}

/** Room for a burst (a rack powering on, or a flood) before the kernel drops datagrams; capped at rmem_max. */
const RECEIVE_BUFFER_BYTES = 1024 * 1024;
const LIMITED_BROADCAST = '255.255.255.255';

function portError(e: NodeJS.ErrnoException, address: string, port: number): Error {
  if (e.code === 'EACCES') {
    return new DhcpPortError('no-permission', `UDP port ${port} on ${address} needs root or CAP_NET_BIND_SERVICE: run the gateway with that privilege, or without --dhcp`);
  }
  if (e.code !== 'EADDRINUSE') return e;
  return new DhcpPortError('in-use', port === PXE_PORT
    ? `UDP port ${PXE_PORT} on ${address} is held by another PXE server (dnsmasq in proxy mode or with pxe-service): stop it, or run icboot's proxyDHCP on another host`
    : `UDP port ${port} on ${address} is held by a DHCP server that does not share it (dnsmasq without --bind-interfaces or --bind-dynamic, ISC dhcpd, ...): `
      + 'give dnsmasq --bind-interfaces, or run icboot\'s proxyDHCP on another host (docs/dhcp.md)');
}

async function open(address: string, port: number, share: boolean): Promise<Socket> {
  const socket = createSocket({ type: 'udp4', reuseAddr: share, recvBufferSize: RECEIVE_BUFFER_BYTES });
  socket.bind(port, address);
  try {
    await once(socket, 'listening');
  } catch (e) {
    socket.close();
    throw portError(e as NodeJS.ErrnoException, address, port);
  }
  return socket;
}

export async function startProxyDhcp(o: ProxyDhcpOptions): Promise<ProxyDhcp> {
  const ip = o.settings.serverIp;
  const notices = new LogThrottle(o.log);
  const sockets: Socket[] = [];
  const closeAll = async (): Promise<void> => {
    await Promise.all(sockets.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
  };
  try {
    // Broadcasts reach only sockets bound to 0.0.0.0; shared, so a DHCP server on this host that shares (dnsmasq
    // with --bind-interfaces or --bind-dynamic) keeps working beside us. Unicasts to it go to that server's socket
    // first, as it is bound to its interface: we never see them.
    const any = await open('0.0.0.0', SERVER_PORT, true);
    sockets.push(any);
    // Sends broadcast OFFERs from port 67 out of this interface: Linux routes a limited broadcast by its source
    // address. Connected to 255.255.255.255:68, it matches no incoming datagram, so it takes none from the
    // other server's socket.
    const out = await open(ip, SERVER_PORT, true);
    sockets.push(out);
    out.setBroadcast(true);
    out.connect(CLIENT_PORT, LIMITED_BROADCAST);
    await once(out, 'connect');
    const pxe = await open(ip, PXE_PORT, false);
    sockets.push(pxe);

    const sent = (to: string) => (e: Error | null): void => {
      if (e) notices.line('send-failed', `dhcp: cannot send to ${to}: ${e.message}`);
    };
    const receive = (port: 67 | 4011, socket: Socket) => (msg: Buffer, from: RemoteInfo): void => {
      try {
        const parsed = parseDhcp(msg);
        if (!parsed.ok) {
          notices.line(`malformed-${parsed.problem}`, `dhcp: dropped a malformed packet from ${from.address}:${from.port} on port ${port}: ${parsed.message}`);
          return;
        }
        const a = proxyAnswer(parsed.packet, port, from, o.settings);
        if (a.kind === 'ignore') {
          notices.line(`ignored-${a.reason}`, `dhcp: no answer to ${macOf(parsed.packet) ?? '-'} (${from.address}:${from.port}, port ${port}): ${a.why}`);
          return;
        }
        const bytes = encodeDhcp(a.packet);
        const to = `${a.to.address}:${a.to.port}`;
        if (a.to.address === LIMITED_BROADCAST) out.send(bytes, sent(to));
        else socket.send(bytes, a.to.port, a.to.address, sent(to));
        o.log(printable(a.summary));
        o.offered?.(from.address === '0.0.0.0' ? null : from.address, macOf(parsed.packet));
      } catch (e) {
        notices.line('internal', `dhcp: internal error on a packet from ${from.address}:${from.port}: ${(e as Error).message}`);
      }
    };
    any.on('message', receive(SERVER_PORT, any));
    pxe.on('message', receive(PXE_PORT, pxe));
    for (const s of sockets) s.on('error', (e) => notices.line('socket-error', `dhcp: socket error on ${o.interface}: ${e.message}`));
  } catch (e) {
    await closeAll();
    throw e;
  }
  return { close: closeAll };
}

// UDP socket chores shared by the listener (gateway/tftp/server.ts) and the
// transfers (gateway/tftp/transfer.ts).
import type { Socket } from 'node:dgram';

/** Whether replies to this source can be sent: a non-zero port, and an IPv4 address outside 0/8, multicast and broadcast. */
export function validPeer(r: { address: string; port: number }): boolean {
  const first = /^(\d{1,3})\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.exec(r.address)?.[1];
  return r.port >= 1 && r.port <= 65535 && first !== undefined && Number(first) >= 1 && Number(first) < 224;
}

/** Binds `socket`; on failure it is closed, so a listener retried each time its address appears leaks nothing. */
export function bind(socket: Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', (e) => {
      closeQuietly(socket);
      reject(e);
    });
    socket.bind(port, address, () => {
      socket.removeAllListeners('error');
      resolve();
    });
  });
}

export function closed(s: Socket): Promise<void> {
  return new Promise((r) => s.close(() => r()));
}

export function closeQuietly(s: Socket | null): void {
  try {
    s?.close();
  } catch {
    // Never bound, or already closed.
  }
}

// Whether a UDP port is bound in this process's network namespace, from
// /proc/net/udp: servers such as in.tftpd print nothing when they are ready.

/** True when a socket in `procNetUdp` (the text of /proc/net/udp) has local port `port`. */
export function udpBound(port: number, procNetUdp: string): boolean {
  const suffix = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  // Field 1 is local_address as HEXIP:HEXPORT; the first line is the header.
  return procNetUdp.split('\n').slice(1).some((line) => line.trim().split(/\s+/)[1]?.endsWith(suffix));
}

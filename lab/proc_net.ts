// Sockets as /proc/net/{tcp,udp} lists them: how tests and benchmarks tell
// that a server which prints nothing when ready (in.tftpd, dnsmasq) has bound
// its port, in whatever network namespace the table was read.

/** The sockets in `table` (the text of /proc/net/tcp or /proc/net/udp) bound to local `port`, each as its fields (3 is the state; 0A: listening). */
export function socketsOn(table: string, port: number): string[][] {
  const suffix = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  // Field 1 is local_address as HEXIP:HEXPORT; the first line is the header.
  return table.split('\n').slice(1).map((line) => line.trim().split(/\s+/)).filter((fields) => fields[1]?.endsWith(suffix));
}

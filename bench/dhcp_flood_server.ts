// Run by bench/dhcp.ts inside its network namespace: the proxyDHCP server
// alone (no gateway, no devnet) on the interface named, so the flood measures
// its memory and nothing else's. Prints `ready PID` once listening; on
// SIGUSR2, after a forced GC (node --expose-gc), one line
// `stats {"heapUsed":..,"rss":..,"logLines":..,"answers":..}`.
import { dhcpInterface } from '../gateway/dhcp/interface.ts';
import { proxySettings } from '../gateway/dhcp/proxy.ts';
import { startProxyDhcp } from '../gateway/dhcp/server.ts';

export interface FloodServerStats {
  heapUsed: number;
  rss: number;
  /** Lines the server logged: answers, and throttled notices about what it dropped. */
  logLines: number;
  /** Of those, the answers (`dhcp MAC ARCH CLASS -> FILE`); notices start `dhcp: `. */
  answers: number;
}

const iface = dhcpInterface(process.argv[2]);
const stats: FloodServerStats = { heapUsed: 0, rss: 0, logLines: 0, answers: 0 };
const server = await startProxyDhcp({
  interface: iface.name,
  settings: proxySettings(iface.address, { host: '0.0.0.0', port: 80 }),
  log: (line) => {
    stats.logLines++;
    if (!line.startsWith('dhcp: ')) stats.answers++;
  },
});
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc: heap figures are taken after a forced GC');
process.on('SIGUSR2', () => {
  gc();
  const m = process.memoryUsage();
  process.stdout.write(`stats ${JSON.stringify({ ...stats, heapUsed: m.heapUsed, rss: m.rss })}\n`);
});
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
process.stdout.write(`ready ${process.pid}\n`);

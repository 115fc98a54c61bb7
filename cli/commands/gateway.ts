// `icboot gateway`: serves the certified tree over TFTP and HTTP until SIGINT or SIGTERM.
import { Option, type Command } from 'commander';
import type { CommonOptions } from '../../client/canister.ts';
import { UserError } from '../../client/errors.ts';
import { GATEWAY_DEFAULTS } from '../../gateway/defaults.ts';
import type { ListenerEvent } from '../../gateway/listeners.ts';
import { TFTP_DEFAULTS } from '../../gateway/tftp/server.ts';
import { defaultWorkers } from '../../gateway/tftp/workers.ts';
import { canisterCommand } from '../canister_command.ts';
import { createLogger, logFormatOption, type LogFormat } from '../log.ts';
import { byteCount, endpoint, endpointOrOff, integer, releaseId, type Endpoint } from '../flags.ts';
import { byteFlag } from '../format.ts';

const GATEWAY_CACHE_MEM = 256 * 1024 * 1024;
const GATEWAY_CACHE_DISK = 4 * 1024 * 1024 * 1024;

interface GatewayFlags extends CommonOptions {
  tftp: Endpoint; http: Endpoint | null; metrics: Endpoint | null; release: number | null; poll: number; cacheDir?: string;
  cacheMem: number; cacheDisk: number; maxTransfers: number; maxPerClient: number; maxPerSubnet: number; minRate: number; tftpWorkers: number;
  fetchTimeout: number; maxHttpConnections: number; prefetch: boolean; dhcp: 'off' | 'proxy'; dhcpInterface?: string;
  logFormat: LogFormat;
}

export function register(program: Command): void {
  canisterCommand(program, 'gateway', 'serve the certified boot tree over TFTP (and HTTP) to PXE clients')
    // Defaults are shown as they are typed, not as the values they parse to.
    .addOption(new Option('--tftp <host:port>', 'TFTP address').argParser(endpoint).default({ host: '0.0.0.0', port: 69 }, '0.0.0.0:69'))
    .addOption(new Option('--http <host:port|off>', 'HTTP address for iPXE, the status page (/) and /metrics, or off')
      .argParser(endpointOrOff).default(null, 'off'))
    .addOption(new Option('--metrics <host:port|off>', 'also serve Prometheus /metrics here (e.g. with --http off)')
      .argParser(endpointOrOff).default(null, 'off'))
    .addOption(new Option('--release <n|current>', 'release to serve')
      .argParser((v: string) => (v === 'current' ? null : releaseId(v))).default(null, 'current'))
    .option('--poll <seconds>', 'how often to look for a new certified release', integer(1, 86_400), 30)
    .option('--cache-dir <dir>', 'verified chunk cache on disk; keeps serving while the canister is unreachable')
    .addOption(new Option('--cache-mem <bytes>', 'memory cache budget (suffixes K, M, G)').argParser(byteCount).default(GATEWAY_CACHE_MEM, byteFlag(GATEWAY_CACHE_MEM)))
    .addOption(new Option('--cache-disk <bytes>', 'disk cache budget (suffixes K, M, G)').argParser(byteCount).default(GATEWAY_CACHE_DISK, byteFlag(GATEWAY_CACHE_DISK)))
    .option('--max-transfers <n>', 'concurrent TFTP transfers', integer(1, 10_000), TFTP_DEFAULTS.maxTransfers)
    .option('--max-per-client <n>', 'concurrent TFTP transfers per client address', integer(1, 10_000), TFTP_DEFAULTS.maxPerClient)
    .option('--max-per-subnet <n>', 'concurrent TFTP transfers per /24 of client addresses', integer(1, 10_000), TFTP_DEFAULTS.maxPerSubnet)
    .addOption(new Option('--min-rate <bytes>', 'when TFTP slots run out, a transfer slower than this many bytes/s gives its slot to a new client (suffixes K, M)')
      .argParser(byteCount).default(TFTP_DEFAULTS.minRate, byteFlag(TFTP_DEFAULTS.minRate)))
    .addOption(new Option('--tftp-workers <n>', 'threads serving TFTP transfers, so a boot storm uses every core (0: serve them on the main thread)')
      .argParser(integer(0, 256)).default(defaultWorkers(), 'one per core'))
    .option('--fetch-timeout <seconds>', 'how long one read from the canister may take before the transfer needing it fails',
      integer(1, 600), GATEWAY_DEFAULTS.fetchTimeoutMs / 1000)
    .option('--max-http-connections <n>', 'open HTTP connections at most', integer(1, 1_000_000), GATEWAY_DEFAULTS.maxHttpConnections)
    .option('--no-prefetch', 'do not load each new release into the cache ahead of requests')
    .addOption(new Option('--dhcp <mode>', 'proxy: answer PXE and HTTP Boot clients\' DHCP with what to boot, beside the LAN\'s DHCP server (needs --http)')
      .choices(['off', 'proxy']).default('off'))
    .option('--dhcp-interface <if>', 'interface the proxyDHCP serves (default: the only one with an IPv4 address besides loopback)')
    .addOption(logFormatOption())
    .addHelpText('after', `
Example:
  $ icboot gateway --network ic --canister <id> --http 0.0.0.0:80 --cache-dir /var/cache/icboot
  serves the current release to the LAN on TFTP port 69 and HTTP port 80 (as root), with a disk cache; the status page is then
  http://<this host>/, and Prometheus scrapes http://<this host>/metrics (docs/metrics.md)`)
    .action(async (o: GatewayFlags, cmd: Command) => {
      // Given alone it would be ignored: the proxy is off by default.
      if (o.dhcp !== 'proxy' && cmd.getOptionValueSource('dhcpInterface') === 'cli') {
        throw new UserError('--dhcp-interface names the interface --dhcp proxy serves: add --dhcp proxy, or drop --dhcp-interface');
      }
      const { startGateway } = await import('../../gateway/index.ts');
      const logger = createLogger(o.logFormat);
      const log = (line: string): void => logger.info(line);
      // The last resort: a fault in serving one client must not stop the others.
      process.on('uncaughtException', (e) => logger.error(`internal error (still serving): ${e.stack ?? e.message}`));
      process.on('unhandledRejection', (e) => logger.error(`internal error (still serving): ${e instanceof Error ? e.stack : String(e)}`));
      // On stdout, for scripts and tests to follow: the addresses listened on once started, then each one
      // listened on as its address appears, and each one stopped as its address goes away.
      const say = (service: 'tftp' | 'http', e: ListenerEvent): void => {
        process.stdout.write(`${service} ${e.listening ? '' : 'stopped '}listening on ${service === 'http' ? 'http://' : ''}${e.address}:${e.port}\n`);
      };
      let started = false;
      const listening = (service: 'tftp' | 'http', e: ListenerEvent): void => {
        if (started) say(service, e);
      };
      const g = await startGateway({ ...o, pollSeconds: o.poll, fetchTimeoutMs: o.fetchTimeout * 1000, log, listening });
      for (const t of g.tftp) say('tftp', { address: t.host, port: t.port, listening: true });
      if (g.http) say('http', { address: g.http.host, port: g.http.port, listening: true });
      if (g.metrics) process.stdout.write(`metrics listening on http://${g.metrics.host}:${g.metrics.port}/metrics\n`);
      if (g.dhcp) process.stdout.write(`dhcp proxy listening on ${g.dhcp.name} (${g.dhcp.address}) ports 67 and 4011\n`);
      started = true;
      const stop = (): void => {
        g.close().then(() => process.exit(0), () => process.exit(1));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}

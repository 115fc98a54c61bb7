// `icboot gateway`: serves the certified boot tree of an icboot canister over
// TFTP (and HTTP) on the LAN. Data flows one way: canister → verified reader →
// chunk cache → files → TFTP/HTTP.
import { join } from 'node:path';
import { IC_ROOT_KEY } from '@dfinity/agent';
import { hexToBytes } from '@noble/hashes/utils';
import type { Principal } from '@dfinity/principal';
import { connect, icbootCanister, requireCanisterId, type CommonOptions } from '../client/canister.ts';
import { TransientError } from '../client/errors.ts';
import { resolveNetwork } from '../client/network.ts';
import { VerifiedReader } from '../client/verify.ts';
import { UserError } from '../common/errors.ts';
import { Activity } from './activity.ts';
import { AddressWatcher } from './addresses.ts';
import { ChunkCache } from './cache.ts';
import { dhcpInterface, type DhcpInterface } from './dhcp/interface.ts';
import { proxySettings, type ProxySettings } from './dhcp/proxy.ts';
import { startProxyDhcp, type ProxyDhcp } from './dhcp/server.ts';
import { Files } from './files.ts';
import { listenHttp, listenMetrics } from './http.ts';
import { Listeners, type Listener, type ListenerEvent } from './listeners.ts';
import { LogThrottle } from './log.ts';
import { ReleaseMachines } from './machines/index.ts';
import { GatewayMetrics } from './metrics.ts';
import { requestPath } from './path.ts';
import { ReleaseTracker, type Snapshot } from './release.ts';
import { checkCacheDir, portError } from './startup_errors.ts';
import { ERR } from './tftp/packet.ts';
import { TftpServer } from './tftp/server.ts';
import { defaultWorkers } from './tftp/workers.ts';
import { TftpError } from './tftp/source.ts';
import { warm } from './warm.ts';

export interface Endpoint {
  host: string;
  port: number;
}

export interface GatewayOptions extends CommonOptions {
  tftp: Endpoint;
  http: Endpoint | null;
  /** Where else /metrics is served (also with HTTP off); null: only on the HTTP listener. */
  metrics?: Endpoint | null;
  /** A release id, or null to follow the current release. */
  release: number | null;
  pollSeconds: number;
  cacheDir?: string;
  cacheMem: number;
  cacheDisk: number;
  maxTransfers: number;
  maxPerClient: number;
  /** Concurrent TFTP transfers per /24. */
  maxPerSubnet: number;
  /** Bytes/s below which a TFTP transfer gives its slot to a newcomer when the server is full. */
  minRate: number;
  /** Worker threads serving TFTP transfers (default: one per core); 0 serves them on the main thread. */
  tftpWorkers?: number;
  /** How long one read from the canister (a chunk; the index and manifest) may take before it fails. */
  fetchTimeoutMs: number;
  maxHttpConnections: number;
  /** Load every chunk of each new release into the cache, so first boots do not wait on the canister. */
  prefetch: boolean;
  /** `proxy`: answer PXE and HTTP Boot clients' DHCP with boot information and no address (docs/dhcp.md); default off. */
  dhcp?: 'off' | 'proxy';
  /** The interface the proxyDHCP serves; by default the only one with an IPv4 address besides loopback. */
  dhcpInterface?: string;
  log: (line: string) => void;
  /** Each address a service starts listening on (at start or when it appears), and each it stops on because the address went away. */
  listening?: (service: 'tftp' | 'http', e: ListenerEvent) => void;
}

export interface Gateway {
  /** The TFTP addresses listened on now. */
  readonly tftp: Endpoint[];
  /** The HTTP address listened on now; null with HTTP off, or while its address is not up. */
  readonly http: Endpoint | null;
  /** The interface and address the proxyDHCP answers on; null with --dhcp off. */
  readonly dhcp: DhcpInterface | null;
  /** The --metrics address listened on; null without --metrics. */
  readonly metrics: Endpoint | null;
  close(): Promise<void>;
}

/** Connects on first use and again after failures, so the gateway can start offline. */
function upstream(o: GatewayOptions, id: Principal): () => Promise<VerifiedReader> {
  let reader: Promise<VerifiedReader> | null = null;
  return () => {
    reader ??= (async () => {
      // Reading needs no write rights: sign as the given identity, else anonymously.
      const c = await connect(o.identity || o.pem ? o : { ...o, pem: undefined, identity: 'anonymous' }, undefined, o.fetchTimeoutMs);
      return new VerifiedReader(icbootCanister(c, id), c.agent, id);
    })().catch((e: Error) => {
      reader = null;
      throw new TransientError(e.message);
    });
    return reader;
  };
}

/** Prefetches a release into the cache, and logs how far it got. */
async function warmLogged(cache: ChunkCache, snap: Snapshot, machines: ReleaseMachines, log: (line: string) => void): Promise<void> {
  const started = performance.now();
  try {
    const w = await warm(cache, snap, machines);
    log(`cache: release ${snap.manifest.id} warm, ${w.chunks} of ${w.of} chunks (${(w.bytes / 2 ** 20).toFixed(1)} MiB) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } catch (e) {
    log(`cache: warming release ${snap.manifest.id} stopped: ${(e as Error).message}`);
  }
}

/** `--dhcp proxy` set up in a way clients could not boot from. */
export class DhcpSetupError extends UserError {
  constructor(readonly problem: 'needs-http' | 'tftp-elsewhere' | 'http-elsewhere', message: string) {
    super(message);
  }
}

/** Whether a listener on `e` takes connections to the interface's address. */
const servesOn = (e: Endpoint, iface: DhcpInterface): boolean => e.host === '0.0.0.0' || e.host === iface.address;

/** The proxyDHCP's interface and what it hands out, checked against where TFTP and HTTP listen, before anything starts. */
function proxyDhcpPlan(o: GatewayOptions): { iface: DhcpInterface; settings: ProxySettings } | null {
  if (o.dhcp !== 'proxy') return null;
  if (!o.http || o.http.port === 0) {
    throw new DhcpSetupError('needs-http', '--dhcp proxy needs --http on a fixed port (80 for GRUB): iPXE and HTTP Boot clients are sent there, e.g. --http 0.0.0.0:80');
  }
  const iface = dhcpInterface(o.dhcpInterface);
  // PXE firmware asks siaddr's port 69, and nothing else.
  if (o.tftp.port !== 69 || !servesOn(o.tftp, iface)) {
    throw new DhcpSetupError('tftp-elsewhere',
      `--dhcp proxy sends PXE firmware to TFTP on ${iface.address}:69, but --tftp is ${o.tftp.host}:${o.tftp.port}: use --tftp ${iface.address}:69 or 0.0.0.0:69`);
  }
  // Clients on the DHCP interface's LAN reach HTTP only there.
  if (!servesOn(o.http, iface)) {
    throw new DhcpSetupError('http-elsewhere',
      `--dhcp proxy sends iPXE and HTTP Boot clients to HTTP on ${iface.address}, but --http is ${o.http.host}:${o.http.port}: use --http ${iface.address}:${o.http.port} or 0.0.0.0:${o.http.port}`);
  }
  return { iface, settings: proxySettings(iface.address, o.http) };
}

export async function startGateway(o: GatewayOptions): Promise<Gateway> {
  // Everything that can be wrong with the command line or this host is found before anything slow.
  const dhcpPlan = proxyDhcpPlan(o);
  if (o.cacheDir) checkCacheDir(o.cacheDir);
  const network = resolveNetwork(o.network);
  const canisterId = requireCanisterId(network, o.canister);
  const reader = upstream(o, canisterId);
  const activity = new Activity();
  const metrics = new GatewayMetrics(activity);
  activity.durations = metrics;
  const cache = new ChunkCache({
    memBytes: o.cacheMem,
    dir: o.cacheDir ? join(o.cacheDir, 'chunks') : undefined,
    diskBytes: o.cacheDisk,
    fetch: (hash) => activity.query('chunk', async () => (await reader()).chunk(hash)),
    fetchTimeoutMs: o.fetchTimeoutMs,
    log: o.log,
    notices: new LogThrottle(o.log),
    observer: activity,
  });
  activity.cacheFill = () => cache.fill;
  const release = new ReleaseTracker({
    reader,
    // A saved release is checked against mainnet's built-in key; other networks publish theirs.
    trust: { canisterId, rootKey: network.fetchRootKey ? null : hexToBytes(IC_ROOT_KEY) },
    pin: o.release, pollSeconds: o.pollSeconds, fetchTimeoutMs: o.fetchTimeoutMs, cacheDir: o.cacheDir, log: o.log,
    // Each release loaded from the canister, the first included; not a saved one, served because the canister cannot be reached.
    onChange: (s) => {
      activity.served(s);
      if (o.prefetch) void warmLogged(cache, s, machines, o.log);
      machines.preload();
    },
    query: (kind, work) => activity.query(kind, work),
    verified: (at) => activity.certified(at),
    failed: (text) => activity.error(text),
    integrityFailed: (text) => activity.integrityFailed(text),
  });
  const machines = new ReleaseMachines(release, (hash) => cache.get(hash), o.log);
  const files = new Files(release, cache);
  // One look at the interfaces every few seconds serves both TFTP and HTTP.
  const addresses = new AddressWatcher();
  const tftpServer = new TftpServer({
    maxTransfers: o.maxTransfers,
    maxPerClient: o.maxPerClient,
    maxPerSubnet: o.maxPerSubnet,
    minRate: o.minRate,
    workers: o.tftpWorkers ?? defaultWorkers(),
    log: o.log,
    watch: (client, path) => activity.transfer('tftp', client.address, path),
    handler: async (name) => {
      // Listening starts before the release is loaded, so that port problems show at once.
      if (!release.snapshot) throw new TftpError(ERR.UNDEFINED, 'the gateway is starting: no release loaded yet, try again');
      const asked = requestPath(name);
      if (!asked.ok) throw new TftpError(asked.refused ? ERR.ACCESS : ERR.NOT_FOUND, asked.message);
      const f = files.open(asked.path);
      if (!f) throw new TftpError(ERR.NOT_FOUND, 'file not found');
      return { size: f.file.size, stream: f.stream() };
    },
  });
  // Without IP_PKTINFO a UDP socket on 0.0.0.0 cannot tell which address a request came to, and PXE
  // firmware wants replies from that address: so TFTP on 0.0.0.0 gets one socket per local address.
  const tftp = new Listeners({
    service: 'tftp', host: o.tftp.host, port: o.tftp.port, perAddress: true, addresses, log: o.log,
    open: (address, port) => tftpServer.listenOn(address, port).catch((e: unknown) => { throw portError(e, 'tftp', address, port); }),
    changed: (e) => o.listening?.('tftp', e),
  });
  // Templates see the TFTP port of the address the machine reached over HTTP; with port 0 each address has its own.
  const tftpPort = (address: string): number =>
    (tftp.endpoints.find((e) => e.address === address) ?? tftp.endpoints[0])?.port ?? o.tftp.port;
  // A TCP socket on 0.0.0.0 accepts on addresses that appear later, so HTTP needs one listener at most.
  const http = o.http && new Listeners({
    service: 'http', host: o.http.host, port: o.http.port, perAddress: false, addresses, log: o.log,
    open: (address, port) => listenHttp(files, o.log, { maxConnections: o.maxHttpConnections, machines, tftpPort, activity, metrics }, address, port)
      .catch((e: unknown) => { throw portError(e, 'http', address, port); }),
    changed: (e) => o.listening?.('http', e),
  });
  let metricsListener: Listener | null = null;
  let dhcp: ProxyDhcp | null = null;
  let snap: Snapshot;
  try {
    await tftp.start();
    await http?.start();
    if (o.metrics) {
      const { host, port } = o.metrics;
      metricsListener = await listenMetrics(metrics, o.log, host, port).catch((e: unknown) => { throw portError(e, 'metrics', host, port); });
    }
    snap = await release.start();
    // A release saved by an earlier run is not announced through onChange.
    if (snap.origin === 'disk') {
      activity.served(snap);
      machines.preload();
    }
    // Last: PXE clients are told where to boot only once TFTP and HTTP are there to serve them.
    if (dhcpPlan) {
      dhcp = await startProxyDhcp({
        interface: dhcpPlan.iface.name, settings: dhcpPlan.settings, log: o.log, offered: (ip, mac) => activity.offered(ip, mac),
      });
    }
  } catch (e) {
    release.stop();
    await tftp.close();
    await http?.close();
    await metricsListener?.close();
    await tftpServer.close();
    throw e;
  }
  o.log(`gateway: serving release ${snap.manifest.id} (${snap.files.size} files)`);
  const endpoints = (l: { address: string; port: number }[]): Endpoint[] => l.map(({ address, port }) => ({ host: address, port }));
  return {
    get tftp() {
      return endpoints(tftp.endpoints);
    },
    get http() {
      return http ? endpoints(http.endpoints)[0] ?? null : null;
    },
    dhcp: dhcpPlan?.iface ?? null,
    metrics: o.metrics && metricsListener ? { host: o.metrics.host, port: metricsListener.port } : null,
    async close() {
      release.stop();
      // No client is sent here once the gateway is going.
      await dhcp?.close();
      // Transfers are ended before their listeners close, so none is reported as stranded.
      await tftpServer.close();
      await tftp.close();
      await http?.close();
      await metricsListener?.close();
    },
  };
}

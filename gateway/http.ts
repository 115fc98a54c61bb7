// HTTP for iPXE chainloading: GET and HEAD of the boot tree, with
// Content-Length, single-range requests and the file's SHA-256 as ETag. A file
// that cannot be read completely ends the connection early, so a client never
// mistakes a partial body for the whole file. A few exact paths are the
// machine endpoints instead (gateway/machines/endpoints.ts), each reply
// rendered whole before it is sent, and `/` and `/metrics` are the gateway's
// own status page and Prometheus metrics (a release file named `metrics` is
// reached as `//metrics`). Until a release is loaded, requests for files and
// machine endpoints are answered 503. Connections are capped, idle ones time
// out, and nothing a client does can end the process; open status pages have
// a small budget of their own (gateway/status_stream.ts) on top of the cap.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpUrl } from '../common/machines/firmware.ts';
import type { Activity, LiveTransfer, TransferResult } from './activity.ts';
import type { Files } from './files.ts';
import type { Listener } from './listeners.ts';
import { LogThrottle, printable } from './log.ts';
import { machineReply, machineRoute } from './machines/endpoints.ts';
import type { ReleaseMachines } from './machines/index.ts';
import type { GatewayAddress } from './machines/render.ts';
import type { GatewayMetrics } from './metrics.ts';
import { requestPath } from './path.ts';
import { serveStatus } from './status.ts';
import { StatusStreams } from './status_stream.ts';

export interface HttpOptions {
  /** Open connections at most; more are closed at once (and logged). */
  maxConnections: number;
  /** The machines of the release served, for the machine endpoints. */
  machines: ReleaseMachines;
  /** The TFTP port listened on at `address` (a local address), which templates see with it. */
  tftpPort: (address: string) => number;
  activity: Activity;
  metrics: GatewayMetrics;
}

/** How long a client may take to send its request headers. */
const HEADERS_TIMEOUT_MS = 15_000;
/** Seconds a client asking for a file while the gateway starts is told to wait. */
const STARTING_RETRY_S = 5;

/** An IPv4 address as a dual-stack socket reports it (`::ffff:a.b.c.d`), written plainly. */
const unmapped = (address = ''): string => address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');

function createHttpServer(files: Files, log: (line: string) => void, o: HttpOptions): Server {
  const notices = new LogThrottle(log);
  // An open status page holds its connection: it is counted on top of the cap, so pages never take boot clients' places.
  const streams = new StatusStreams(o.activity, (open) => {
    server.maxConnections = o.maxConnections + open;
  });
  const server = createServer((req, res) => {
    serve(files, req, res, log, notices, o, streams).catch((e: Error) => {
      log(`http: ${printable(req.url ?? '')}: internal error: ${e.message}`);
      res.destroy();
    });
  });
  server.maxConnections = o.maxConnections;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = HEADERS_TIMEOUT_MS;
  // Once listening, the server reports accept() failures here: log them, keep serving. A bind failure (an
  // address not up yet) is listenHttp's to report. (libuv itself drops connections it cannot accept for
  // want of descriptors; the connection cap keeps that from happening.)
  server.on('error', (e: NodeJS.ErrnoException) => {
    if (server.listening) notices.line(`error ${e.code}`, `http: ${e.message}`);
  });
  server.on('drop', (d?: { remoteAddress?: string }) => {
    notices.line('drop', `http: refused a connection from ${d?.remoteAddress ?? 'a client'}: ${o.maxConnections} connections open (--max-http-connections)`);
  });
  return server;
}

/** A server of its own listening on `address:port`; closing it also ends its open connections. */
export function listenHttp(files: Files, log: (line: string) => void, o: HttpOptions, address: string, port: number): Promise<Listener> {
  return listen(createHttpServer(files, log, o), address, port);
}

/** `--metrics HOST:PORT`: a server answering GET /metrics, and 404 to anything else. */
export function listenMetrics(metrics: GatewayMetrics, log: (line: string) => void, address: string, port: number): Promise<Listener> {
  const server = createServer((req, res) => {
    if (targetPath(req.url ?? '') !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('only GET /metrics here\n');
      return;
    }
    sendMetrics(metrics, req, res).catch((e: Error) => {
      log(`metrics: internal error: ${e.message}`);
      res.destroy();
    });
  });
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = HEADERS_TIMEOUT_MS;
  server.on('error', (e: Error) => {
    if (server.listening) log(`metrics: ${e.message}`);
  });
  return listen(server, address, port);
}

async function sendMetrics(metrics: GatewayMetrics, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { contentType, body } = await metrics.scrape();
  res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : body);
}

async function listen(server: Server, address: string, port: number): Promise<Listener> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** The path part of a request target (origin or absolute form), percent-decoded; null if the encoding is bad. */
export function targetPath(target: string): string | null {
  let path = target.replace(/[?#].*$/s, '');
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(path);
  if (absolute) path = path.slice(absolute[0].length);
  try {
    return decodeURIComponent(path);
  } catch {
    return null;
  }
}

/** The query string of a request target, without `?` and any fragment. */
function targetQuery(target: string): string {
  const q = target.indexOf('?');
  return q < 0 ? '' : target.slice(q + 1).replace(/#.*$/s, '');
}

/**
 * The gateway as the client reached it: the local address the request came
 * to, so a machine on any of the gateway's networks is pointed back at an
 * address it can reach.
 */
function gatewayAddress(req: IncomingMessage, tftpPort: (address: string) => number): GatewayAddress {
  const address = unmapped(req.socket.localAddress);
  const host = address.includes(':') ? `[${address}]` : address;
  return { http: httpUrl(host, req.socket.localPort ?? 0), tftp: `${host}:${tftpPort(address)}` };
}

/** How a request for a tree file that was answered in full counts in metrics. */
function outcome(status: number): TransferResult {
  if (status === 404) return 'not_found';
  if (status >= 400 && status < 500) return 'refused';
  return status >= 500 ? 'failed' : 'ok';
}

/** Resolves once `res` can take more bytes, or has closed. */
function writable(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** What a Range header asks of a file: bytes [start, end], the whole file (200), or nothing the file holds (416). */
export type RangeRequest = { start: number; end: number } | 'whole' | 'unsatisfiable';

/**
 * `bytes=a-b`, `bytes=a-` or `bytes=-n` against a file of `size` bytes, an end
 * past the file cut to its last byte. Anything else (another unit, several
 * ranges, bad syntax) asks for the whole file.
 */
export function parseRange(header: string, size: number): RangeRequest {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'whole';
  let start: number;
  let end: number;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

async function serve(
  files: Files, req: IncomingMessage, res: ServerResponse, log: (line: string) => void, notices: LogThrottle, o: HttpOptions,
  streams: StatusStreams,
): Promise<void> {
  const started = performance.now();
  const ip = unmapped(req.socket.remoteAddress);
  const client = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
  // Each request for a tree file is a transfer the gateway observes; the gateway's own pages are not.
  let transfer: LiveTransfer | null = null;
  const finish = (status: number, bytes: number, result: string, path: string, failed = false): void => {
    log(`http ${client} ${req.method} ${printable(path)} ${status} ${bytes} bytes ${((performance.now() - started) / 1000).toFixed(3)} s ${result}`);
    transfer?.end(failed ? 'failed' : outcome(status), `${status} ${result}`);
  };
  const plain = (status: number, text: string, path: string): void => {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) + 1 });
    res.end(req.method === 'HEAD' ? undefined : text + '\n');
    finish(status, 0, text, path);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return plain(405, 'only GET and HEAD', req.url ?? '');
  }
  const raw = targetPath(req.url ?? '/');
  if (raw === null) return plain(400, 'bad URL encoding', req.url ?? '');
  if (raw === '/') return serveStatus(req, res, streams, targetQuery(req.url ?? ''), ip);
  if (raw === '/metrics') return sendMetrics(o.metrics, req, res);
  // Listening starts before the release is loaded, so that port problems show at once; a 404 now would look final.
  if (!o.activity.release) {
    res.setHeader('Retry-After', String(STARTING_RETRY_S));
    return plain(503, 'the gateway is starting: no release loaded yet, try again', raw);
  }
  const route = machineRoute(raw);
  if (route) {
    const mac = new URLSearchParams(targetQuery(req.url ?? '')).get('mac');
    if (mac && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac)) o.activity.mac(ip, mac);
    const hasFile = (path: string): boolean => files.open(path) !== null;
    const reply = await machineReply(route, raw, targetQuery(req.url ?? ''), gatewayAddress(req, o.tftpPort), o.machines, hasFile);
    if (reply) {
      res.writeHead(reply.status, {
        'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(reply.body), 'Cache-Control': 'no-store',
      });
      const body = req.method === 'HEAD' ? '' : reply.body;
      res.end(body);
      // Refusals are the client's doing and failures repeat for every machine: both are throttled, per status and
      // endpoint (a bounded set of kinds: a key made of request text would let a client grow the throttle's map).
      if (reply.problem === undefined) return finish(reply.status, Buffer.byteLength(body), reply.note ?? 'ok', req.url ?? raw);
      return notices.line(`machines ${route.endpoint} ${reply.status}`, `http ${client} ${req.method} ${printable(req.url ?? '')} ${reply.status}: ${printable(reply.problem)}`);
    }
  }
  transfer = o.activity.transfer('http', ip, raw.replace(/^\/+/, ''));
  try {
    await serveFile(files, req, res, transfer, raw, plain, finish);
  } finally {
    // Whatever threw before the transfer ended (the connection is then destroyed) leaves no transfer live.
    transfer.end('failed', 'internal error');
  }
}

/** Answers a request for a file of the tree, observed as `transfer`; `plain` and `finish` end it. */
async function serveFile(
  files: Files, req: IncomingMessage, res: ServerResponse, transfer: LiveTransfer, raw: string,
  plain: (status: number, text: string, path: string) => void,
  finish: (status: number, bytes: number, result: string, path: string, failed?: boolean) => void,
): Promise<void> {
  const asked = requestPath(raw);
  if (!asked.ok) return plain(asked.refused ? 403 : 404, asked.message, raw);
  const { path } = asked;
  const f = files.open(path);
  if (!f) return plain(404, 'not found', path);

  const etag = `"${f.file.sha256}"`;
  // Header names go out capitalised, here and above: GRUB 2.06's http module looks for "Content-Length: " spelt
  // exactly so, and without it reads the body until the connection closes (seconds later, at keep-alive's end).
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/octet-stream',
    'Accept-Ranges': 'bytes',
    ETag: etag,
    'Cache-Control': 'no-cache',
  };
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, headers).end();
    return finish(304, 0, 'not modified', path);
  }
  const size = f.file.size;
  // An If-Range naming another version of the file asks for the whole file.
  const wanted = req.headers.range && (!req.headers['if-range'] || req.headers['if-range'] === etag)
    ? parseRange(req.headers.range, size)
    : 'whole';
  if (wanted === 'unsatisfiable') {
    res.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}` }).end();
    return finish(416, 0, 'range not satisfiable', path);
  }
  const range = wanted === 'whole' ? null : wanted;
  const status = range ? 206 : 200;
  const length = range ? range.end - range.start + 1 : size;
  if (range) headers['Content-Range'] = `bytes ${range.start}-${range.end}/${size}`;
  headers['Content-Length'] = length;
  transfer.size = length;
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || length === 0) {
    res.end();
    return finish(status, 0, 'ok', path);
  }
  let sent = 0;
  try {
    for await (const piece of range ? f.range(range.start, range.end) : f.stream()) {
      if (res.destroyed) throw new Error('client went away');
      sent += piece.length;
      transfer.bytes = sent;
      if (!res.write(piece)) await writable(res);
      if (res.destroyed) throw new Error('client went away');
    }
    res.end();
    finish(status, sent, `ok (release ${f.release})`, path);
  } catch (e) {
    res.destroy();
    finish(status, sent, `aborted: ${(e as Error).message}`, path, true);
  }
}

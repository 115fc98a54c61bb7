// An HTTP proxy in front of an IC endpoint that misbehaves on demand, as a hung
// or overloaded boundary node would: it can stall (accept every request and
// never answer), or fail queries in bursts with HTTP 503, long enough that the
// agent's own retries give up.
import { createServer, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ProxyMode = 'pass' | 'stall' | { failQueries: number; ofEvery: number };

export interface FaultyProxy {
  url: string;
  mode(m: ProxyMode): void;
  /** Requests held unanswered so far. */
  readonly held: number;
  /** Queries answered with 503 so far. */
  readonly failed: number;
  close(): Promise<void>;
}

export async function faultyProxy(target: string): Promise<FaultyProxy> {
  let mode: ProxyMode = 'pass';
  let queries = 0;
  let failed = 0;
  const held: ServerResponse[] = [];
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    if (mode === 'stall') {
      held.push(res);
      return;
    }
    // The first `failQueries` of every `ofEvery` queries fail.
    if (typeof mode === 'object' && /\/query$/.test(req.url ?? '') && queries++ % mode.ofEvery < mode.failQueries) {
      failed++;
      req.resume();
      res.writeHead(503, { 'content-type': 'text/plain' }).end('proxy fault injection: query failed');
      return;
    }
    const up = request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    mode(m) {
      mode = m;
      queries = 0;
    },
    get held() {
      return held.length;
    },
    get failed() {
      return failed;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

// The status page's event stream over real sockets: a page that never reads is
// closed while the bytes queued for it stay bounded, a page that reads keeps
// its stream, and streams are capped in total and per client address without
// taking the places of boot clients (the HTTP server's connection cap).
import assert from 'node:assert/strict';
import { createServer, get, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { Principal } from '@dfinity/principal';
import { until } from '../lab/poll.ts';
import { Activity, LIMITS } from './activity.ts';
import { ChunkCache } from './cache.ts';
import { Files } from './files.ts';
import { listenHttp } from './http.ts';
import type { Listener } from './listeners.ts';
import { LogThrottle } from './log.ts';
import { ReleaseMachines } from './machines/index.ts';
import { GatewayMetrics } from './metrics.ts';
import { ReleaseTracker } from './release.ts';
import { StatusStreams, STREAM_LIMITS } from './status_stream.ts';

/** An Activity whose boots are all full, with paths as long as a request line allows: the largest view there can be. */
function fullActivity(): Activity {
  const a = new Activity();
  for (let c = 0; c < LIMITS.clients; c++) {
    for (let f = 0; f < LIMITS.filesPerClient; f++) a.transfer('http', `10.0.${c}.1`, `${'x'.repeat(10_000)}${f}`).end('not_found', '404 not found');
  }
  return a;
}

/** Sends `GET /?events` from `localAddress` and resolves with the status code once the head is in; the socket keeps reading. */
function openStream(port: number, localAddress = '127.0.0.1'): Promise<{ status: number; head: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress }, () => socket.write('GET /?events HTTP/1.1\r\nHost: gw\r\n\r\n'));
    let head = '';
    const onData = (d: Buffer): void => {
      head += d.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      // Drained from here on, as a page that keeps up.
      socket.on('data', () => {});
      resolve({ status: Number(head.slice(9, 12)), head: head.slice(0, end).toLowerCase(), socket });
    };
    socket.on('data', onData);
    socket.on('error', reject);
  });
}

const listen = (server: Server): Promise<number> =>
  new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));

describe('status page event stream', () => {
  const sockets: Socket[] = [];
  after(() => sockets.forEach((s) => s.destroy()));

  it('closes a page that never reads, holds a bounded number of bytes for it, and keeps serving one that reads', async () => {
    const a = fullActivity();
    const limits = { ...STREAM_LIMITS, bufferedBytes: 64 * 1024, behindMs: 500, everyMs: 50, heartbeatMs: 0 };
    const streams = new StatusStreams(a, undefined, limits);
    const server = createServer((req, res) => streams.serve(req, res, req.socket.remoteAddress ?? ''));
    const port = await listen(server);
    try {
      // One event: the largest view, its paths cut.
      const first = await new Promise<string>((resolve) => {
        get({ port, host: '127.0.0.1', path: '/?events', agent: false }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => {
            text += d.toString();
            if (text.includes('\n\n')) {
              res.destroy();
              resolve(text.slice(0, text.indexOf('\n\n')));
            }
          });
        });
      });
      const frame = Buffer.byteLength(first) + 2;
      assert.ok(frame < 2 * 2 ** 20, `an event of ${frame} bytes`);
      const { now, view } = JSON.parse(first.replace(/^data: /, '')) as { now: number; view: { boots: { files: { path: string }[] }[] } };
      assert.ok(now > 0);
      assert.equal(view.boots.length, LIMITS.clients);
      assert.equal(view.boots[0].files[0].path.length, LIMITS.pathChars);
      await until(() => streams.open === 0, 'the first stream closed', 30_000);

      // A page that keeps up, and one that never reads.
      let events = 0;
      const reader = await new Promise<IncomingMessage>((resolve) => {
        get({ port, host: '127.0.0.1', path: '/?events', agent: false }, resolve);
      });
      reader.on('data', (d: Buffer) => {
        events += d.toString().split('\n\n').length - 1;
      });
      const stalled = connect(port, '127.0.0.1', () => stalled.write('GET /?events HTTP/1.1\r\nHost: gw\r\n\r\n'));
      stalled.pause();
      sockets.push(stalled);
      await until(() => streams.open === 2, 'both streams open', 30_000);
      // Each stream is written to only while at most `bufferedBytes` wait, so it holds that and one event at most.
      let most = 0;
      await until(() => {
        most = Math.max(most, streams.buffered);
        return streams.dropped === 1;
      }, 'the page that never reads closed', 60_000, 10);
      assert.ok(most > limits.bufferedBytes, `the stalled page did fall behind (${most} bytes)`);
      assert.ok(most <= 2 * (limits.bufferedBytes + frame), `${most} bytes buffered`);
      assert.equal(streams.open, 1);
      const seen = events;
      await until(() => events > seen + 2, 'the page that reads still gets events', 30_000);
      reader.destroy();
      await until(() => streams.open === 0, 'every stream closed', 30_000);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('refuses streams beyond the caps with 503 and Retry-After, and leaves boot clients their connections', async () => {
    const log = (): void => {};
    const activity = new Activity();
    // A gateway that has not loaded a release (its canister is never asked here).
    const release = new ReleaseTracker({
      reader: () => Promise.reject(new Error('no canister in this test')), trust: { canisterId: Principal.fromText('aaaaa-aa'), rootKey: null },
      pin: null, pollSeconds: 30, fetchTimeoutMs: 1000, log,
    });
    const cache = new ChunkCache({
      memBytes: 1 << 20, diskBytes: 0, fetch: () => Promise.reject(new Error('no canister in this test')), fetchTimeoutMs: 1000, log, notices: new LogThrottle(log),
    });
    const machines = new ReleaseMachines(release, (h) => cache.get(h), log);
    const maxConnections = 2;
    const http: Listener = await listenHttp(new Files(release, cache), log,
      { maxConnections, machines, tftpPort: () => 69, activity, metrics: new GatewayMetrics(activity) }, '127.0.0.1', 0);
    try {
      const { total, perClient } = STREAM_LIMITS;
      const open = async (address: string): Promise<{ status: number; head: string; socket: Socket }> => {
        const s = await openStream(http.port, address);
        sockets.push(s.socket);
        return s;
      };
      for (let i = 0; i < perClient; i++) assert.equal((await open('127.0.0.1')).status, 200);
      const one = await open('127.0.0.1');
      assert.equal(one.status, 503, 'one client past its share');
      assert.match(one.head, /\r\nretry-after: \d+/);
      one.socket.destroy();
      for (let c = 2; c * perClient <= total; c++) {
        for (let i = 0; i < perClient; i++) assert.equal((await open(`127.0.0.${c}`)).status, 200, `127.0.0.${c}`);
      }
      const extra = await open('127.0.0.200');
      assert.equal(extra.status, 503, 'past the total');
      assert.match(extra.head, /\r\nretry-after: \d+/);
      extra.socket.destroy();

      // 32 streams open, far more than --max-http-connections: boot clients still get in (once the server has seen
      // the refused pages' connections close, which it learns a moment after this side closed them).
      await until(async () => {
        const r = await fetch(`http://127.0.0.1:${http.port}/metrics`).catch(() => null);
        return r && (await r.text()) && r.status === 200;
      }, 'GET /metrics answered with 32 streams open', 30_000);
      // No release loaded yet: a file is "not yet", not "not found".
      const file = await fetch(`http://127.0.0.1:${http.port}/vmlinuz`);
      assert.equal(file.status, 503);
      assert.equal(file.headers.get('retry-after'), '5');
      assert.match(await file.text(), /starting/);
      assert.equal(activity.live.size, 0);
    } finally {
      await http.close();
    }
  });
});

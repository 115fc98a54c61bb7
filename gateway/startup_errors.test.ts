// Startup failures against real sockets and directories: each is a typed error found before
// any canister work (the canister URL here refuses connections, so reaching it would fail otherwise).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { LockStep } from '../lab/gateway.ts';
import { until } from '../lab/poll.ts';
import { startGateway, type GatewayOptions } from './index.ts';
import { CacheDirError, PortError, checkCacheDir, portError } from './startup_errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'icboot-startup-'));

function options(o: Partial<GatewayOptions>): GatewayOptions {
  return {
    network: 'http://127.0.0.1:1', canister: 'aaaaa-aa', tftp: { host: '127.0.0.1', port: 0 }, http: null, release: null, pollSeconds: 30,
    cacheMem: 1 << 20, cacheDisk: 1 << 20, maxTransfers: 8, maxPerClient: 8, maxPerSubnet: 8, minRate: 1024, fetchTimeoutMs: 2000,
    maxHttpConnections: 8, prefetch: false, log: () => {}, ...o,
  };
}

describe('startup errors', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a TFTP port in use is a PortError naming it, before the canister is asked', async () => {
    const held = createSocket('udp4');
    await new Promise<void>((r) => held.bind(0, '127.0.0.1', () => r()));
    const port = held.address().port;
    try {
      await assert.rejects(startGateway(options({ tftp: { host: '127.0.0.1', port } })), (e: unknown) => {
        assert.ok(e instanceof PortError, String(e));
        assert.equal(e.problem, 'in-use');
        assert.equal(e.port, port);
        assert.equal(e.service, 'tftp');
        assert.ok(!e.message.includes('\n'));
        return true;
      });
    } finally {
      held.close();
    }
  });

  it('an HTTP or metrics port in use is a PortError too', async () => {
    const held = createServer();
    await new Promise<void>((r) => held.listen(0, '127.0.0.1', () => r()));
    const port = (held.address() as { port: number }).port;
    try {
      for (const o of [{ http: { host: '127.0.0.1', port } }, { metrics: { host: '127.0.0.1', port } }]) {
        await assert.rejects(startGateway(options(o)), (e: unknown) => e instanceof PortError && e.problem === 'in-use' && e.port === port);
      }
    } finally {
      held.close();
    }
  });

  it('names `npm start` only for the ports it holds', async () => {
    const inUse = Object.assign(new Error('bind EADDRINUSE'), { code: 'EADDRINUSE' });
    const at = (port: number): string => (portError(inUse, 'tftp', '127.0.0.1', port) as PortError).message;
    assert.match(at(6969), /npm start/);
    assert.match(at(8080), /npm start/);
    assert.doesNotMatch(at(69), /npm start/);
    const other = Object.assign(new Error('x'), { code: 'EADDRNOTAVAIL' });
    assert.equal(portError(other, 'tftp', '10.9.9.9', 69), other);
  });

  // Bound for real by an unprivileged process (this one dropped to nobody with setpriv when it runs as root).
  const unprivilegedFrom = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
  const root = process.getuid?.() === 0;
  const skip = unprivilegedFrom <= 69 ? 'port 69 needs no privilege on this host'
    : root && !existsSync('/usr/bin/setpriv') ? 'running as root without setpriv to drop privilege' : false;
  it('EACCES on a port is a PortError naming the systemd capability first, setcap last', { skip }, async () => {
    const script = `import { createSocket } from 'node:dgram';
      import { portError } from ${JSON.stringify(fileURLToPath(new URL('./startup_errors.ts', import.meta.url)))};
      const s = createSocket('udp4');
      s.on('error', (e) => { const p = portError(e, 'tftp', '127.0.0.1', 69); console.log(JSON.stringify({ problem: p.problem, message: p.message })); s.close(); });
      s.bind(69, '127.0.0.1', () => { console.log('{}'); s.close(); });`;
    const node = [process.execPath, '--import', 'tsx', '--input-type=module', '-e', script];
    const argv = root ? ['/usr/bin/setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', ...node] : node;
    const out = await new Promise<string>((resolve, reject) => {
      execFile(argv[0], argv.slice(1), { cwd: fileURLToPath(new URL('..', import.meta.url)) }, (e, stdout, stderr) => (e ? reject(new Error(stderr)) : resolve(stdout)));
    });
    const e = JSON.parse(out) as { problem?: string; message?: string };
    assert.equal(e.problem, 'no-permission');
    const message = e.message ?? '';
    assert.ok(!message.includes('\n'));
    const order = ['AmbientCapabilities=CAP_NET_BIND_SERVICE', 'root', '--tftp 127.0.0.1:6969', 'setcap'].map((fix) => message.indexOf(fix));
    assert.ok(order.every((i, k) => i >= 0 && (k === 0 || i > order[k - 1])), message);
  });

  it('while the release loads, HTTP answers files and machine endpoints 503 with Retry-After, and TFTP "starting"', async () => {
    // A canister that takes connections and never answers.
    const held: Socket[] = [];
    const canister = createServer((s) => held.push(s));
    await new Promise<void>((r) => canister.listen(0, '127.0.0.1', () => r()));
    const ports: Record<string, number> = {};
    const gateway = startGateway(options({
      network: `http://127.0.0.1:${(canister.address() as { port: number }).port}`, http: { host: '127.0.0.1', port: 0 }, fetchTimeoutMs: 60_000,
      listening: (service, e) => {
        ports[service] = e.port;
      },
    }));
    gateway.catch(() => {});
    try {
      await until(() => ports.http && ports.tftp, 'listening', 30_000);
      const base = `http://127.0.0.1:${ports.http}`;
      for (const path of ['/vmlinuz', '/ipxe?mac=52:54:00:00:00:01']) {
        const r = await fetch(base + path);
        assert.equal(r.status, 503, path);
        assert.equal(r.headers.get('retry-after'), '5');
        assert.match(await r.text(), /starting/);
      }
      const page = await fetch(`${base}/`);
      assert.equal(page.status, 200);
      await page.text();
      const tftp = await LockStep.open(ports.tftp, 'vmlinuz', {});
      await tftp.read();
      assert.match(tftp.error?.message ?? '', /starting/);
      tftp.close();
    } finally {
      // The canister goes away: the start fails and the gateway closes its listeners.
      held.forEach((s) => s.destroy());
      canister.close();
      await assert.rejects(gateway);
    }
  });

  it('a cache directory that cannot be written is a CacheDirError, before the canister is asked', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    const bad = join(file, 'cache');
    assert.throws(() => checkCacheDir(bad), (e: unknown) => e instanceof CacheDirError && e.code === 'ENOTDIR' && e.message.includes(bad));
    await assert.rejects(startGateway(options({ cacheDir: bad })), (e: unknown) => e instanceof CacheDirError && e.dir === bad);
    checkCacheDir(join(dir, 'fine', 'nested'));
  });
});

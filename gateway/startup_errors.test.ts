// Startup failures against real sockets and directories: each is a typed error found before
// any canister work (the canister URL here refuses connections, so reaching it would fail otherwise).
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
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

  it('EACCES on a port is a PortError with the fixes; other errors pass through', () => {
    const denied = Object.assign(new Error('bind EACCES 0.0.0.0:69'), { code: 'EACCES' });
    const e = portError(denied, 'tftp', '0.0.0.0', 69);
    assert.ok(e instanceof PortError);
    assert.equal(e.problem, 'no-permission');
    for (const fix of ['root', 'CAP_NET_BIND_SERVICE', 'setcap', '--tftp 0.0.0.0:6969']) assert.ok(e.message.includes(fix), fix);
    const other = Object.assign(new Error('x'), { code: 'EADDRNOTAVAIL' });
    assert.equal(portError(other, 'tftp', '10.9.9.9', 69), other);
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

// Listeners following addresses, with real UDP sockets on loopback. The
// interfaces are a set the test edits (an address cannot be added to the host
// without root; test/gateway_addresses.test.ts does that in a namespace).
// 192.0.2.1 (TEST-NET-1) is never local, so binding it fails as a missing address does.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { describe, it } from 'node:test';
import { until } from '../lab/poll.ts';
import { AddressWatcher } from './addresses.ts';
import { Listeners, type Listener, type ListenerEvent } from './listeners.ts';

/** A bound UDP socket, as a listener. */
async function udp(address: string, port: number): Promise<Listener> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(port, address, () => resolve());
  });
  return { port: s.address().port, close: () => new Promise<void>((r) => s.close(() => r())) };
}

/** Whether UDP `port` on 127.0.0.1 is free, by binding it. */
async function free(port: number): Promise<boolean> {
  try {
    await (await udp('127.0.0.1', port)).close();
    return true;
  } catch {
    return false;
  }
}

/** Listeners on `host:port` over interfaces the test edits; `looks` counts how often they were read, `opens` the binds tried. */
function follow(host: string, perAddress: boolean, interfaces: Set<string>, port = 0) {
  const events: ListenerEvent[] = [];
  const logs: string[] = [];
  const seen = { looks: 0, opens: 0 };
  const read = (): Set<string> => {
    seen.looks++;
    return new Set(interfaces);
  };
  const listeners = new Listeners({
    service: 'tftp', host, port, perAddress, addresses: new AddressWatcher(10, read),
    open: (address, p) => {
      seen.opens++;
      return udp(address, p);
    },
    log: (l) => logs.push(l), changed: (e) => events.push(e),
  });
  return { listeners, events, logs, seen };
}

describe('listeners', () => {
  it('with 0.0.0.0, one per address: opens each address as it appears and closes it as it goes', async () => {
    const interfaces = new Set(['127.0.0.1']);
    const f = follow('0.0.0.0', true, interfaces);
    try {
      await f.listeners.start();
      const [first] = f.listeners.endpoints;
      assert.equal(first.address, '127.0.0.1');
      assert.deepEqual(f.events, [{ address: '127.0.0.1', port: first.port, listening: true }]);
      assert.equal(await free(first.port), false);

      interfaces.delete('127.0.0.1');
      await until(() => f.events.length === 2, 'the listener closed');
      assert.deepEqual(f.events[1], { address: '127.0.0.1', port: first.port, listening: false });
      assert.deepEqual(f.listeners.endpoints, []);
      assert.equal(await free(first.port), true);

      interfaces.add('127.0.0.1');
      await until(() => f.events.length === 3, 'the listener opened again');
      assert.equal(f.events[2].listening, true);
      assert.deepEqual(f.listeners.endpoints, [{ address: '127.0.0.1', port: f.events[2].port }]);
    } finally {
      await f.listeners.close();
    }
  });

  it('with a specific address not up yet: starts, says it is waiting, and retries at each look while the address is listed but binding fails', async () => {
    const interfaces = new Set(['127.0.0.1']);
    const f = follow('192.0.2.1', true, interfaces);
    try {
      await f.listeners.start();
      assert.deepEqual(f.listeners.endpoints, []);
      assert.deepEqual(f.logs, ['tftp: waiting for 192.0.2.1 to appear on an interface, to listen on 192.0.2.1:0']);
      // Listed but not bindable (as when it flaps away between two looks): tried again at each look, quietly.
      const before = f.seen.opens;
      interfaces.add('192.0.2.1');
      await until(() => f.seen.opens >= before + 3, 'attempts at later looks');
      assert.deepEqual(f.events, []);
      assert.equal(f.logs.length, 1);
    } finally {
      await f.listeners.close();
    }
  });

  it('with a specific address: closes when it goes away, waits, and opens again on the same port when it returns', async () => {
    const interfaces = new Set(['127.0.0.1', '192.0.2.1']);
    const probe = await udp('127.0.0.1', 0);
    const fixed = probe.port;
    await probe.close();
    const f = follow('127.0.0.1', false, interfaces, fixed);
    try {
      await f.listeners.start();
      assert.deepEqual(f.listeners.endpoints, [{ address: '127.0.0.1', port: fixed }]);
      // Other addresses do not concern it.
      interfaces.delete('192.0.2.1');
      interfaces.delete('127.0.0.1');
      await until(() => f.events.length === 2, 'the listener closed');
      assert.deepEqual(f.events[1], { address: '127.0.0.1', port: fixed, listening: false });
      assert.deepEqual(f.logs, [`tftp: waiting for 127.0.0.1 to appear on an interface, to listen on 127.0.0.1:${fixed}`]);
      interfaces.add('127.0.0.1');
      await until(() => f.events.length === 3, 'the listener opened again');
      assert.deepEqual(f.events[2], { address: '127.0.0.1', port: fixed, listening: true });
    } finally {
      await f.listeners.close();
    }
    assert.equal(await free(fixed), true, 'close() closes every listener');
  });

  it('fails to start on a bind error other than a missing address, leaving nothing open', async () => {
    const taken = await udp('127.0.0.1', 0);
    const f = follow('0.0.0.0', true, new Set(['127.0.0.1']), taken.port);
    try {
      await assert.rejects(f.listeners.start(), (e: NodeJS.ErrnoException) => e.code === 'EADDRINUSE');
      assert.deepEqual(f.listeners.endpoints, []);
    } finally {
      await taken.close();
    }
  });

  it('after start, logs a bind error and tries again only when the address next appears', async () => {
    const interfaces = new Set<string>();
    const taken = await udp('127.0.0.1', 0);
    const f = follow('0.0.0.0', true, interfaces, taken.port);
    try {
      await f.listeners.start();
      interfaces.add('127.0.0.1');
      await until(() => f.logs.length === 1, 'the bind error logged');
      assert.match(f.logs[0], /^tftp: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE.*; trying again when the address next appears$/);
      await taken.close();
      interfaces.delete('127.0.0.1');
      const looks = f.seen.looks;
      await until(() => f.seen.looks > looks, 'a look without the address');
      assert.deepEqual(f.events, [], 'no attempt while the address is away');
      interfaces.add('127.0.0.1');
      await until(() => f.events.length === 1, 'the listener opened once the address came back');
      assert.deepEqual(f.events[0], { address: '127.0.0.1', port: taken.port, listening: true });
      assert.equal(f.logs.length, 1);
    } finally {
      await f.listeners.close();
    }
  });
});

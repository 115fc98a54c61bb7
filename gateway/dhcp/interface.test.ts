import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { describe, it } from 'node:test';
import { DhcpInterfaceError, dhcpInterface } from './interface.ts';

const v4 = (address: string, internal = false): NetworkInterfaceInfo =>
  ({ family: 'IPv4', address, internal, netmask: '255.255.255.0', mac: '00:00:00:00:00:00', cidr: `${address}/24` });
const v6 = (address: string): NetworkInterfaceInfo =>
  ({ family: 'IPv6', address, internal: false, netmask: 'ffff:ffff:ffff:ffff::', mac: '00:00:00:00:00:00', cidr: `${address}/64`, scopeid: 0 });

const problem = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof DhcpInterfaceError);
    return e.problem;
  }
  assert.fail('no error');
};

describe('dhcpInterface', () => {
  const lo = [v4('127.0.0.1', true)];

  it('takes the named interface and its IPv4 address', () => {
    assert.deepEqual(dhcpInterface('br0', { lo, br0: [v6('fe80::1'), v4('192.168.151.1')], eth0: [v4('10.0.0.2')] }),
      { name: 'br0', address: '192.168.151.1' });
  });

  it('without a name, takes the only non-loopback interface with IPv4', () => {
    assert.deepEqual(dhcpInterface(undefined, { lo, eth0: [v4('10.0.0.2')], v6only: [v6('fe80::2')] }), { name: 'eth0', address: '10.0.0.2' });
  });

  it('refuses an unknown interface, one without IPv4, and a choice it cannot make: no candidate, or several', () => {
    assert.equal(problem(() => dhcpInterface('nope', { lo })), 'unknown');
    assert.equal(problem(() => dhcpInterface('v6only', { lo, v6only: [v6('fe80::2')] })), 'no-ipv4');
    assert.equal(problem(() => dhcpInterface(undefined, { lo, v6only: [v6('fe80::2')] })), 'none');
    assert.equal(problem(() => dhcpInterface(undefined, { lo, a: [v4('10.0.0.1')], b: [v4('10.0.1.1')] })), 'ambiguous');
  });
});

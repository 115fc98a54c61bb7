// Which local IPv4 addresses appeared and which went away between two looks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diffAddresses, localIPv4 } from './addresses.ts';

describe('local addresses', () => {
  it('reports what appeared and what went away, sorted', () => {
    const before = new Set(['127.0.0.1', '10.77.0.1', '10.77.0.3']);
    const after = new Set(['10.77.0.2', '127.0.0.1', '10.77.0.10', '10.77.0.3']);
    assert.deepEqual(diffAddresses(before, after), { added: ['10.77.0.10', '10.77.0.2'], removed: ['10.77.0.1'] });
  });

  it('reports nothing when nothing changed, whatever the order', () => {
    assert.deepEqual(diffAddresses(new Set(['a', 'b']), new Set(['b', 'a'])), { added: [], removed: [] });
    assert.deepEqual(diffAddresses(new Set(), new Set()), { added: [], removed: [] });
  });

  it('reports every address when the first or second look is empty', () => {
    assert.deepEqual(diffAddresses(new Set(), new Set(['10.77.0.1'])), { added: ['10.77.0.1'], removed: [] });
    assert.deepEqual(diffAddresses(new Set(['10.77.0.1']), new Set()), { added: [], removed: ['10.77.0.1'] });
  });

  it('takes the IPv4 addresses of every interface, each once', () => {
    const common = { netmask: '255.255.255.0', mac: '00:00:00:00:00:00', internal: false, cidr: null };
    const found = localIPv4({
      lo: [{ ...common, address: '127.0.0.1', family: 'IPv4', internal: true }, { ...common, address: '::1', family: 'IPv6', scopeid: 0 }],
      d0: [{ ...common, address: '10.77.0.1', family: 'IPv4' }, { ...common, address: 'fe80::1', family: 'IPv6', scopeid: 2 }],
      d1: [{ ...common, address: '10.77.0.1', family: 'IPv4' }],
      down: undefined,
    });
    assert.deepEqual([...found].sort(), ['10.77.0.1', '127.0.0.1']);
  });
});

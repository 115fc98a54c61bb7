import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { archOf, normaliseSelectors, selectGroup } from './select.ts';
import type { Group, Machines, Profile } from './types.ts';

const normal = (raw: Record<string, string>): Record<string, string> => {
  const r = normaliseSelectors(raw);
  assert.ok(r.ok, `refused: ${JSON.stringify(r)}`);
  return r.selectors;
};

const refusedKey = (raw: Record<string, string>): string => {
  const r = normaliseSelectors(raw);
  assert.ok(!r.ok, `accepted: ${JSON.stringify(raw)}`);
  assert.ok(r.reason.length > 0 && !r.reason.includes('\n'));
  return r.key;
};

describe('normaliseSelectors', () => {
  it('puts mac, uuid and hostname in one normal form', () => {
    assert.deepEqual(normal({ mac: '52-54-00-AB-cd-EF' }), { mac: '52:54:00:ab:cd:ef' });
    assert.deepEqual(normal({ mac: '52:54:00:ab:cd:ef' }), { mac: '52:54:00:ab:cd:ef' });
    assert.deepEqual(normal({ uuid: 'A0B1C2D3-0000-4000-8000-0123456789AB' }), { uuid: 'a0b1c2d3-0000-4000-8000-0123456789ab' });
    assert.deepEqual(normal({ hostname: 'Node-1.Lab.example' }), { hostname: 'node-1.lab.example' });
    assert.deepEqual(normal({ serial: 'SN-42_a.b', arch: 'efi-arm64', rack: 'r1:u7', zone_2: '' }), { serial: 'SN-42_a.b', arch: 'efi-arm64', rack: 'r1:u7' });
    // What many firmwares report when the vendor left it blank: such a machine must still get its script.
    assert.deepEqual(normal({ serial: 'To be filled by O.E.M.' }), { serial: 'To be filled by O.E.M.' });
  });

  it('drops empty values: iPXE expands settings a machine lacks to ""', () => {
    assert.deepEqual(normal({ mac: '52:54:00:00:00:01', uuid: '', serial: '', hostname: '' }), { mac: '52:54:00:00:00:01' });
  });

  it('refuses malformed values, naming the key', () => {
    const bad: [Record<string, string>, string][] = [
      [{ mac: '52:54:00:00:00' }, 'mac'],
      [{ mac: '52:54:00-00:00:01' }, 'mac'],
      [{ mac: '52:54:00:00:00:0g' }, 'mac'],
      [{ mac: '52:54:00:00:00:01\n' }, 'mac'],
      [{ uuid: 'a0b1c2d3000040008000-0123456789ab' }, 'uuid'],
      [{ hostname: 'a..b' }, 'hostname'],
      [{ hostname: '-a' }, 'hostname'],
      [{ hostname: `${'a'.repeat(64)}.b` }, 'hostname'],
      [{ hostname: Array(64).fill('abc').join('.') }, 'hostname'],
      [{ hostname: '{{x}}' }, 'hostname'],
      [{ serial: 'a\tb' }, 'serial'],
      [{ serial: '{{x}}' }, 'serial'],
      [{ serial: 'x'.repeat(65) }, 'serial'],
      [{ arch: 'x86_64' }, 'arch'],
      [{ Rack: 'r1' }, 'Rack'],
      [{ __proto__x: 'r1' }, '__proto__x'],
      [{ ['k'.repeat(33)]: 'v' }, 'k'.repeat(33)],
      [{ rack: 'r 1' }, 'rack'],
      [{ rack: '${x}' }, 'rack'],
      [{ rack: 'x'.repeat(129) }, 'rack'],
    ];
    for (const [raw, key] of bad) assert.equal(refusedKey(raw), key, JSON.stringify(raw));
  });

  it('accepts the longest allowed values', () => {
    const host = [...Array(3).fill('a'.repeat(63)), 'a'.repeat(61)].join('.');
    assert.equal(host.length, 253);
    assert.deepEqual(normal({ hostname: host, serial: 's'.repeat(64), ['k'.repeat(32)]: 'v'.repeat(128) }),
      { hostname: host, serial: 's'.repeat(64), ['k'.repeat(32)]: 'v'.repeat(128) });
  });
});

describe('archOf', () => {
  it("maps iPXE's buildarch and platform to a firmware family", () => {
    assert.equal(archOf('i386', 'pcbios'), 'bios');
    assert.equal(archOf('x86_64', 'pcbios'), 'bios');
    assert.equal(archOf('x86_64', 'efi'), 'efi-x86_64');
    assert.equal(archOf('arm64', 'efi'), 'efi-arm64');
    for (const [b, p] of [['i386', 'efi'], ['arm32', 'efi'], ['arm64', 'pcbios'], [undefined, 'efi'], ['x86_64', undefined], ['', '']]) {
      assert.equal(archOf(b, p), null, `${b}/${p}`);
    }
  });
});

const profile = (id: string): Profile => ({ id, name: id, kernel: 'k', initrds: [], args: '', templates: {} });
const group = (id: string, selector: Record<string, string>, p = id): Group => ({ id, name: id, profile: p, selector, metadata: {} });

function machines(groups: Group[]): Machines {
  return { profiles: new Map(groups.map((g) => [g.profile, profile(g.profile)])), groups };
}

const chosen = (m: Machines, s: Record<string, string>): string | null => selectGroup(m, s)?.group.id ?? null;

describe('selectGroup', () => {
  const m = machines([
    group('default', {}),
    group('efi', { arch: 'efi-x86_64' }),
    group('node1', { mac: '52:54:00:00:00:01' }),
    group('node1-efi', { mac: '52:54:00:00:00:01', arch: 'efi-x86_64' }),
    group('rack-b', { rack: 'r1' }),
    group('rack-a', { rack: 'r1', arch: 'bios' }),
    group('rack-c', { rack: 'r1', arch: 'bios' }),
  ]);

  it('picks the most specific matching group', () => {
    assert.equal(chosen(m, { mac: '52:54:00:00:00:01', arch: 'efi-x86_64' }), 'node1-efi');
    assert.equal(chosen(m, { mac: '52:54:00:00:00:01', arch: 'bios' }), 'node1');
    assert.equal(chosen(m, { mac: '52:54:00:00:00:02', arch: 'efi-x86_64' }), 'efi');
  });

  it('falls back to the default group, and returns the group\'s profile', () => {
    const r = selectGroup(m, { mac: '52:54:00:00:00:09', arch: 'bios' });
    assert.equal(r?.group.id, 'default');
    assert.equal(r?.profile.id, 'default');
  });

  it('breaks ties between equally specific groups by id in code-point order, whatever the list order', () => {
    const s = { rack: 'r1', arch: 'bios' };
    assert.equal(chosen(m, s), 'rack-a');
    assert.equal(chosen({ ...m, groups: [...m.groups].reverse() }, s), 'rack-a');
    // Code points, not locale: 'Z' (0x5a) sorts before 'a' (0x61).
    const t = machines([group('a', { rack: 'r1' }), group('Z', { arch: 'bios' })]);
    assert.equal(chosen(t, s), 'Z');
  });

  it('needs every selector of a group; without a default group an unmatched machine gets null', () => {
    assert.equal(chosen(m, { rack: 'r1', arch: 'efi-arm64' }), 'rack-b');
    const noDefault = machines([group('node1', { mac: '52:54:00:00:00:01' })]);
    assert.equal(chosen(noDefault, { mac: '52:54:00:00:00:02' }), null);
    assert.equal(chosen(noDefault, {}), null);
  });
});

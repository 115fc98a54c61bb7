// The machine endpoints without a server: which paths they take, how a request
// becomes selectors, and the status of each reply, over a release in memory.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TransientError } from '../../client/errors.ts';
import type { Snapshot } from '../release.ts';
import { MAX_QUERY_BYTES, machineReply, machineRoute, parsePairs, requestSelectors, type MachineRoute, type Reply } from './endpoints.ts';
import { ReleaseMachines } from './index.ts';
import { memoryRelease, type MemoryRelease } from './memory_release.ts';

const MAC = '52:54:00:12:34:56';
const GATEWAY = { http: 'http://10.0.0.1:8080', tftp: '10.0.0.1:69' };

const TREE = {
  'linux': 'kernel',
  'plain/linux': 'kernel',
  'boot.ipxe': 'the tree\'s own',
  'icboot/meta-data': 'instance-id: {{ group.id }}\n',
  'icboot/broken': '{{ nothing_here }}',
  'icboot/profiles/p.json': JSON.stringify({ kernel: 'linux', templates: { 'meta-data': 'icboot/meta-data', broken: 'icboot/broken' } }),
  'icboot/profiles/plain.json': JSON.stringify({ kernel: 'plain/linux' }),
  'icboot/groups/one.json': JSON.stringify({ profile: 'p', selector: { mac: MAC } }),
  'icboot/groups/efi.json': JSON.stringify({ profile: 'plain', selector: { arch: 'efi-x86_64' } }),
};

function machinesOf(r: MemoryRelease, fail = false): ReleaseMachines {
  const tracker: { snapshot: Snapshot | null } = { snapshot: r.snapshot };
  return new ReleaseMachines(tracker, async (h) => {
    if (fail) throw new TransientError('canister unreachable');
    return r.chunks.get(h)!;
  }, () => {});
}

const machines = machinesOf(memoryRelease(1, TREE));
const files = new Set(Object.keys(TREE));

/** The reply to `target` (path and query), as the HTTP server would ask for it. */
async function reply(target: string, m = machines): Promise<Reply | null> {
  const [path, query = ''] = target.split('?');
  const route = machineRoute(path);
  assert.ok(route, `${path} is an endpoint`);
  return machineReply(route, path, query, GATEWAY, m, (p) => files.has(p));
}

describe('machine endpoints', () => {
  it('take only their exact paths', () => {
    const routes: [string, MachineRoute | null][] = [
      ['/boot.ipxe', { endpoint: 'boot.ipxe' }],
      ['/ipxe', { endpoint: 'ipxe' }],
      ['/grub', { endpoint: 'grub' }],
      ['/generic', { endpoint: 'generic' }],
      ['/cloud-init/meta-data', { endpoint: 'cloud-init', file: 'meta-data', selectors: null }],
      [`/cloud-init/${MAC}/network-config`, { endpoint: 'cloud-init', file: 'network-config', selectors: MAC }],
      ['/cloud-init/a/b/meta-data', null],
      ['/cloud-init/x/other', null],
      ['/cloud-init/', null],
      ['/ipxe/', null],
      ['//ipxe', null],
      ['/boot.ipxe.sig', null],
      ['/IPXE', null],
    ];
    for (const [path, want] of routes) assert.deepEqual(machineRoute(path), want, path);
  });

  it('read parameters once each, decoded', () => {
    assert.deepEqual(parsePairs('a=1&b=x%20y&c=&d&&e=p+q', '&'), { ok: true, value: { a: '1', b: 'x y', c: '', d: '', e: 'p q' } });
    for (const bad of ['a=1&a=2', 'a=1&a', 'a=%zz', '%zz=1']) {
      const r = parsePairs(bad, '&');
      assert.equal(r.ok, false, bad);
      assert.equal(!r.ok && r.reply.status, 400, bad);
    }
  });

  it('make selectors of parameters: buildarch and platform become arch, unless arch is given', () => {
    const s = (p: Record<string, string>) => requestSelectors(p);
    assert.deepEqual(s({ mac: '52-54-00-12-34-56', buildarch: 'x86_64', platform: 'efi', uuid: '', hostname: 'Web.Example' }),
      { ok: true, value: { mac: MAC, hostname: 'web.example', arch: 'efi-x86_64' } });
    assert.deepEqual(s({ buildarch: 'arm64', platform: 'efi', arch: 'bios' }), { ok: true, value: { arch: 'bios' } });
    // A firmware icboot has no arch for (32-bit EFI) selects on the other keys alone.
    assert.deepEqual(s({ buildarch: 'i386', platform: 'efi', rack: 'r1' }), { ok: true, value: { rack: 'r1' } });
    const bad = s({ mac: MAC, hostname: '{{x}}' });
    assert.equal(bad.ok, false);
    assert.ok(!bad.ok && bad.reply.status === 400 && bad.reply.body.includes('"hostname"'));
  });

  it('answer each request with its status', async () => {
    const cases: [string, number][] = [
      ['/boot.ipxe', 200],
      [`/ipxe?mac=${MAC}`, 200],
      // No group and no default: still a script, saying why.
      ['/ipxe?mac=52:54:00:00:00:01', 200],
      ['/ipxe?buildarch=x86_64&platform=efi', 200],
      [`/grub?mac=${MAC}`, 200],
      ['/grub?mac=52:54:00:00:00:01', 404],
      [`/cloud-init/${MAC}/meta-data`, 200],
      [`/cloud-init/mac=${MAC},arch=bios/meta-data`, 200],
      [`/cloud-init/mac=${MAC}/meta-data?mac=${MAC}`, 400],
      [`/cloud-init/${MAC}/user-data`, 404],
      [`/generic?template=meta-data&mac=${MAC}`, 200],
      [`/generic?template=broken&mac=${MAC}`, 500],
      [`/generic?template=nope&mac=${MAC}`, 404],
      [`/generic?mac=${MAC}`, 400],
      ['/ipxe?mac=nope', 400],
      [`/ipxe?mac=${MAC}&mac=${MAC}`, 400],
      [`/ipxe?x=${'a'.repeat(MAX_QUERY_BYTES)}`, 414],
    ];
    for (const [target, status] of cases) {
      const r = await reply(target);
      assert.equal(r?.status, status, `${target.slice(0, 60)}: ${r?.body}`);
      assert.equal(r.problem === undefined, status === 200, `${target.slice(0, 60)}: a problem exactly when refused`);
    }
    assert.equal((await reply(`/cloud-init/${MAC}/meta-data`))?.body, 'instance-id: one\n');
    assert.match((await reply('/ipxe?mac=52:54:00:00:00:01'))!.body, /^#!ipxe\n[^]*mac=52:54:00:00:00:01/);
  });

  it('answer 500 with the reason for an invalid icboot/, and 503 while the release cannot be read', async () => {
    const invalid = machinesOf(memoryRelease(2, { ...TREE, 'icboot/groups/one.json': '{' }));
    const r = await reply(`/ipxe?mac=${MAC}`, invalid);
    assert.equal(r?.status, 500);
    assert.ok(r.body.includes('icboot/groups/one.json'), r.body);
    assert.equal((await reply(`/ipxe?mac=${MAC}`, machinesOf(memoryRelease(3, TREE), true)))?.status, 503);
  });

  it('leave the paths to the tree in a release without icboot/', async () => {
    const plain = machinesOf(memoryRelease(4, { 'boot.ipxe': 'own', 'pxelinux.0': 'x' }));
    assert.equal(await reply('/boot.ipxe', plain), null, 'the tree\'s boot.ipxe is served');
    const r = await reply(`/ipxe?mac=${MAC}`, plain);
    assert.equal(r?.status, 404);
  });
});

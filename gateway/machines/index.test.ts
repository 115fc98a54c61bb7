// The gateway's machines of a release: loaded from verified chunks once per
// release; an invalid icboot/ remembered (one log line), a failed read not.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IntegrityError, TransientError } from '../../client/errors.ts';
import { MachinesError } from '../../common/machines/parse.ts';
import type { Snapshot } from '../release.ts';
import { ReleaseMachines, manifestTree } from './index.ts';
import { memoryRelease as release, type MemoryRelease } from './memory_release.ts';

const unreachable = new TransientError('canister unreachable');

const TREE = {
  'linux': 'kernel',
  'initrd.gz': 'initrd',
  'icboot/profiles/debian.json': JSON.stringify({ kernel: 'linux', initrd: ['initrd.gz'], args: 'console=ttyS0' }),
  'icboot/groups/default.json': JSON.stringify({ profile: 'debian' }),
};

/** A ReleaseMachines over a tracker whose snapshot the test swaps, reading from the chunks of every release given. */
function machinesOf(...releases: MemoryRelease[]) {
  const tracker: { snapshot: Snapshot | null } = { snapshot: releases[0].snapshot };
  const logs: string[] = [];
  let reads = 0;
  let failing = false;
  const chunk = async (hash: string): Promise<Uint8Array> => {
    reads++;
    if (failing) throw unreachable;
    for (const r of releases) if (r.chunks.has(hash)) return r.chunks.get(hash)!;
    throw new Error(`no chunk ${hash}`);
  };
  const m = new ReleaseMachines(tracker, chunk, (l) => logs.push(l));
  return { m, tracker, logs, reads: () => reads, fail: (f: boolean) => { failing = f; } };
}

describe('machines of the release served', () => {
  it('loads them once per release, and again for a new release', async () => {
    const one = release(1, TREE);
    const two = release(2, { ...TREE, 'icboot/groups/web.json': JSON.stringify({ profile: 'debian', selector: { hostname: 'web' } }) });
    const t = machinesOf(one, two);
    const first = await t.m.current();
    assert.equal(first.kind, 'machines');
    assert.equal(first.kind === 'machines' && first.machines.groups.length, 1);
    const reads = t.reads();
    assert.ok(reads > 0);
    assert.equal(await t.m.current(), first, 'the same release is not loaded again');
    assert.equal(t.reads(), reads);
    t.tracker.snapshot = two.snapshot;
    const second = await t.m.current();
    assert.equal(second.release, 2);
    assert.equal(second.kind === 'machines' && second.machines.groups.length, 2);
    assert.deepEqual(t.logs, ['machines: release 1: 1 profiles, 1 groups', 'machines: release 2: 1 profiles, 2 groups']);
  });

  it('finds none in a tree without icboot/, reading nothing', async () => {
    const t = machinesOf(release(4, { 'pxelinux.0': 'x', 'icboot.txt': 'not the folder' }));
    assert.deepEqual(await t.m.current(), { kind: 'none', release: 4 });
    assert.equal(t.reads(), 0);
  });

  it('remembers an invalid icboot/ with its error, logged once', async () => {
    const t = machinesOf(release(5, { ...TREE, 'icboot/profiles/debian.json': JSON.stringify({ kernel: 'vmlinuz' }) }));
    for (let i = 0; i < 2; i++) {
      const s = await t.m.current();
      assert.equal(s.kind, 'invalid');
      assert.ok(s.kind === 'invalid' && s.error instanceof MachinesError);
      assert.equal(s.kind === 'invalid' && s.error.field, 'kernel');
    }
    assert.equal(t.logs.length, 1);
    assert.match(t.logs[0], /^machines: release 5: icboot\/ is invalid.*icboot\/profiles\/debian\.json/);
  });

  it('does not remember a failed read: the next call reads again', async () => {
    const t = machinesOf(release(6, TREE));
    t.fail(true);
    await assert.rejects(t.m.current(), (e) => e === unreachable);
    t.fail(false);
    assert.equal((await t.m.current()).kind, 'machines');
  });

  it('rejects while no release is loaded', async () => {
    const t = machinesOf(release(7, TREE));
    t.tracker.snapshot = null;
    await assert.rejects(t.m.current(), TransientError);
  });

  it('reads a file only when its chunks verify', async () => {
    const r = release(8, { 'a.txt': 'certified' });
    const tree = manifestTree(r.snapshot.manifest, async () => new TextEncoder().encode('forged!!!'));
    await assert.rejects(tree.read('a.txt'), IntegrityError);
    const good = manifestTree(r.snapshot.manifest, async (h) => r.chunks.get(h)!);
    assert.equal(new TextDecoder().decode(await good.read('a.txt')), 'certified');
    assert.deepEqual([...good.paths()], ['a.txt']);
  });
});

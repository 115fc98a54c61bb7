import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../errors.ts';
import { loadMachines, MachinesError, MAX_ARGS_BYTES, MAX_MACHINES_FILE_BYTES, MAX_TEMPLATE_BYTES } from './parse.ts';
import type { TreeReader } from './types.ts';

type Files = Record<string, string | Uint8Array>;

function memoryTree(files: Files): TreeReader {
  const bytes = (path: string): Uint8Array => {
    const f = files[path];
    return typeof f === 'string' ? new TextEncoder().encode(f) : f;
  };
  return {
    paths: () => Object.keys(files),
    size: (path) => bytes(path).length,
    read: async (path) => bytes(path),
  };
}

const BOOT: Files = {
  'debian-installer/amd64/linux': 'kernel',
  'debian-installer/amd64/initrd.gz': 'initrd',
  'icboot/templates/preseed.cfg': 'd-i ...',
};

const PROFILE = {
  name: 'Debian 12 installer',
  kernel: 'debian-installer/amd64/linux',
  initrd: ['debian-installer/amd64/initrd.gz'],
  args: 'console=ttyS0,115200 url={{gateway.http}}/generic?template=preseed',
  templates: { preseed: 'icboot/templates/preseed.cfg' },
};

/** A valid tree with one profile and a default group, with `change` applied. */
function tree(change: Files = {}): Files {
  return {
    ...BOOT,
    'icboot/profiles/debian.json': JSON.stringify(PROFILE),
    'icboot/groups/default.json': JSON.stringify({ profile: 'debian' }),
    ...change,
  };
}

const json = (v: unknown): string => JSON.stringify(v, null, 2);

/** Fails unless loading is refused with a MachinesError for `file` and `field`; returns the message. */
async function refused(files: Files, file: string, field: string): Promise<string> {
  let message = '';
  await assert.rejects(loadMachines(memoryTree(files)), (e: unknown) => {
    assert.ok(e instanceof MachinesError, `not a MachinesError: ${String(e)}`);
    assert.ok(e instanceof UserError);
    assert.deepEqual([e.file, e.field], [file, field], e.message);
    assert.ok(!e.message.includes('\n'), 'one line');
    assert.ok(e.message.startsWith(`${file}: `), e.message);
    message = e.message;
    return true;
  });
  return message;
}

describe('loadMachines', () => {
  it('returns null for a tree without profiles or groups', async () => {
    assert.equal(await loadMachines(memoryTree(BOOT)), null);
  });

  it('reads profiles and groups, filling in the optional fields', async () => {
    const m = await loadMachines(memoryTree(tree({
      'icboot/profiles/bare.json': json({ kernel: 'debian-installer/amd64/linux' }),
      'icboot/groups/node1.json': json({
        name: 'node 1', profile: 'bare', selector: { mac: '52-54-00-AB-CD-EF', arch: 'bios' }, metadata: { ssh: { keys: ['k'] } },
      }),
    })));
    assert.ok(m);
    assert.deepEqual(m.profiles.get('debian'), {
      id: 'debian', name: PROFILE.name, kernel: PROFILE.kernel, initrds: PROFILE.initrd, args: PROFILE.args, templates: PROFILE.templates,
    });
    assert.deepEqual(m.profiles.get('bare'), { id: 'bare', name: 'bare', kernel: PROFILE.kernel, initrds: [], args: '', templates: {} });
    assert.deepEqual(m.groups, [
      { id: 'default', name: 'default', profile: 'debian', selector: {}, metadata: {} },
      { id: 'node1', name: 'node 1', profile: 'bare', selector: { mac: '52:54:00:ab:cd:ef', arch: 'bios' }, metadata: { ssh: { keys: ['k'] } } },
    ]);
  });

  it('keeps groups in file-name order (selection does not depend on it)', async () => {
    const g = (selector: Record<string, string>): string => json({ profile: 'debian', selector });
    const m = await loadMachines(memoryTree(tree({
      'icboot/groups/b.json': g({ rack: 'r1' }),
      'icboot/groups/a.json': g({ arch: 'bios' }),
      'icboot/groups/c.json': g({ rack: 'r1', arch: 'bios' }),
    })));
    assert.deepEqual(m?.groups.map((x) => x.id), ['a', 'b', 'c', 'default']);
  });

  it('refuses a group selecting on a request parameter that is not a selector', async () => {
    for (const key of ['buildarch', 'platform', 'template']) {
      await assert.rejects(loadMachines(memoryTree(tree({ 'icboot/groups/x.json': json({ profile: 'debian', selector: { [key]: 'efi' } }) }))),
        (e: unknown) => e instanceof MachinesError && e.file === 'icboot/groups/x.json' && e.field === `selector.${key}`);
    }
  });

  it('accepts groups without a default group', async () => {
    const m = await loadMachines(memoryTree(tree({ 'icboot/groups/default.json': json({ profile: 'debian', selector: { arch: 'bios' } }) })));
    assert.equal(m?.groups.length, 1);
  });

  it('names the file and field of a profile path that is missing or unsafe', async () => {
    const missing = { ...PROFILE, initrd: [PROFILE.initrd[0], 'debian-installer/amd64/gtk/initrd.gz'] };
    assert.equal(await refused(tree({ 'icboot/profiles/debian.json': json(missing) }), 'icboot/profiles/debian.json', 'initrd[1]'),
      'icboot/profiles/debian.json: "initrd[1]": "debian-installer/amd64/gtk/initrd.gz" is not in the tree');
    await refused(tree({ 'icboot/profiles/debian.json': json({ ...PROFILE, kernel: '../../etc/passwd' }) }), 'icboot/profiles/debian.json', 'kernel');
    await refused(tree({ 'icboot/profiles/debian.json': json({ ...PROFILE, kernel: '/debian-installer/amd64/linux' }) }), 'icboot/profiles/debian.json', 'kernel');
    await refused(tree({ 'icboot/profiles/debian.json': json({ ...PROFILE, templates: { preseed: 'icboot/templates/x' } }) }),
      'icboot/profiles/debian.json', 'templates.preseed');
    // A template too large to render is refused by its size, so no gateway ever reads it.
    assert.match(await refused(tree({ 'icboot/templates/preseed.cfg': 'x'.repeat(MAX_TEMPLATE_BYTES + 1) }), 'icboot/profiles/debian.json', 'templates.preseed'),
      new RegExp(`is ${MAX_TEMPLATE_BYTES + 1} bytes; a template is at most ${MAX_TEMPLATE_BYTES}$`));
  });

  it('refuses unknown fields, missing fields and wrong types, naming the field', async () => {
    const P = 'icboot/profiles/debian.json';
    const G = 'icboot/groups/default.json';
    const cases: [Files, string, string][] = [
      [{ [P]: json({ ...PROFILE, kernal: 'x' }) }, P, 'kernal'],
      [{ [P]: json({ name: 'no kernel' }) }, P, 'kernel'],
      [{ [P]: json({ ...PROFILE, kernel: 7 }) }, P, 'kernel'],
      [{ [P]: json({ ...PROFILE, initrd: PROFILE.initrd[0] }) }, P, 'initrd'],
      [{ [P]: json({ ...PROFILE, initrd: [null] }) }, P, 'initrd[0]'],
      [{ [P]: json({ ...PROFILE, args: ['a'] }) }, P, 'args'],
      [{ [P]: json({ ...PROFILE, args: 'a\nchain http://evil/' }) }, P, 'args'],
      [{ [P]: json({ ...PROFILE, args: 'a'.repeat(MAX_ARGS_BYTES + 1) }) }, P, 'args'],
      [{ [P]: json({ ...PROFILE, templates: [] }) }, P, 'templates'],
      [{ [P]: json({ ...PROFILE, templates: { '../x': 'icboot/templates/preseed.cfg' } }) }, P, 'templates.../x'],
      [{ [P]: json({ ...PROFILE, name: 'two\nlines' }) }, P, 'name'],
      [{ [P]: json({ ...PROFILE, name: 'n'.repeat(257) }) }, P, 'name'],
      [{ [G]: json({ profile: 'debian', metadata: 'x' }) }, G, 'metadata'],
      [{ [G]: json({ profile: 'debian', selectors: {} }) }, G, 'selectors'],
      [{ [G]: json({}) }, G, 'profile'],
      [{ [G]: json({ profile: 'ubuntu' }) }, G, 'profile'],
      [{ [G]: json({ profile: 'debian', selector: 'mac' }) }, G, 'selector'],
      [{ [G]: json({ profile: 'debian', selector: { mac: 1 } }) }, G, 'selector.mac'],
      [{ [G]: json({ profile: 'debian', selector: { serial: '' } }) }, G, 'selector.serial'],
    ];
    for (const [change, file, field] of cases) await refused(tree(change), file, field);
  });

  it('refuses a selector value or key that requests could never carry, naming the key', async () => {
    const G = 'icboot/groups/default.json';
    assert.equal(await refused(tree({ [G]: json({ profile: 'debian', selector: { mac: '52:54:00' } }) }), G, 'selector.mac'),
      'icboot/groups/default.json: "selector.mac": "52:54:00": not a MAC address (aa:bb:cc:dd:ee:ff)');
    await refused(tree({ [G]: json({ profile: 'debian', selector: { arch: 'amd64' } }) }), G, 'selector.arch');
    await refused(tree({ [G]: json({ profile: 'debian', selector: { Rack: 'r1' } }) }), G, 'selector.Rack');
    await refused(tree({ [G]: '{"profile": "debian", "selector": {"__proto__": "x"}}' }), G, 'selector.__proto__');
  });

  it('refuses two groups with the same selector after normalisation, naming both files', async () => {
    const message = await refused(tree({
      'icboot/groups/a.json': json({ profile: 'debian', selector: { arch: 'bios', mac: '52:54:00:AB:CD:EF' } }),
      'icboot/groups/b.json': json({ profile: 'debian', selector: { mac: '52-54-00-ab-cd-ef', arch: 'bios' } }),
    }), 'icboot/groups/b.json', 'selector');
    assert.ok(message.includes('icboot/groups/a.json'), message);
    await refused(tree({ 'icboot/groups/other-default.json': json({ profile: 'debian', selector: {} }) }), 'icboot/groups/other-default.json', 'selector');
  });

  it('refuses malformed files as a whole: JSON (with its position), UTF-8, size, not an object', async () => {
    const P = 'icboot/profiles/debian.json';
    assert.equal(await refused(tree({ [P]: '{\n  "kernel": "debian-installer/amd64/linux",\n}' }), P, ''),
      `${P}: invalid JSON at line 3, column 1: expected a property name in double quotes, found "}"`);
    assert.match(await refused(tree({ [P]: '{"kernel": "a", "kernel": "b"}' }), P, ''), /line 1, column 17: duplicate key "kernel"/);
    await refused(tree({ [P]: new Uint8Array([0x7b, 0xff, 0x7d]) }), P, '');
    await refused(tree({ [P]: '[]' }), P, '');
    const big = json({ ...PROFILE, name: 'x' }).padEnd(MAX_MACHINES_FILE_BYTES + 1, ' ');
    assert.match(await refused(tree({ [P]: big }), P, ''), new RegExp(`at most ${MAX_MACHINES_FILE_BYTES}`));
  });

  it('refuses other files in the profiles and groups folders', async () => {
    for (const file of ['icboot/profiles/README.md', 'icboot/groups/.json', 'icboot/groups/x.JSON', 'icboot/profiles/sub/x.json',
      'icboot/groups/has space.json', `icboot/groups/${'g'.repeat(65)}.json`]) {
      await refused(tree({ [file]: json({ profile: 'debian' }) }), file, '');
    }
  });

  it('refuses profiles that no group could select', async () => {
    const files = tree();
    delete files['icboot/groups/default.json'];
    assert.match(await refused(files, 'icboot/groups/', ''), /no group selects any profile/);
  });
});

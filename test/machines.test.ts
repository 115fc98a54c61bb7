// Machine profiles end to end, short of firmware: a tree with icboot/ profiles
// and groups uploaded to the devnet, `icboot gateway --http` rendering from the
// certified release for real curl requests, and `icboot machines` from the
// local tree and from the canister. Kernels and initrds are small stand-ins.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliEnv, icboot, type CliEnv } from '../lab/cli.ts';
import { startDevnetProcess, tempDir, type RunningDevnet } from '../lab/devnet.ts';
import { run, startGateway, type RunningGateway } from '../lab/gateway.ts';
import { until } from '../lab/poll.ts';

const MAC_A = '52:54:00:00:00:0a';
const MAC_B = '52:54:00:00:00:0b';
const MAC_OTHER = '52:54:00:00:00:99';

/** Writes `files` (path → text) under a new directory. */
function writeTree(prefix: string, files: Record<string, string>): string {
  const dir = tempDir(prefix);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const json = (v: unknown): string => JSON.stringify(v, null, 2);

/** Two per-MAC profiles, a default one, and templates (one of them broken). */
const MACHINES = {
  'a/linux': 'kernel a',
  'a/initrd.gz': 'initrd a',
  'b/linux': 'kernel b',
  'default/linux': 'kernel default',
  'icboot/templates/meta-data': 'instance-id: {{ group.id }}\nlocal-hostname: {{ metadata.hostname }}\n',
  'icboot/templates/user-data': '#cloud-config\nphone_home: {url: "{{ gateway.http }}/done"}\n# tftp {{ gateway.tftp }}\n',
  'icboot/templates/broken': 'this names {{ no_such_variable }}\n',
  'icboot/profiles/a.json': json({
    name: 'Profile A', kernel: 'a/linux', initrd: ['a/initrd.gz'], args: 'console=ttyS0 seed={{ gateway.http }}/cloud-init/{{ selectors.mac }}/',
    templates: { 'meta-data': 'icboot/templates/meta-data', 'user-data': 'icboot/templates/user-data', broken: 'icboot/templates/broken' },
  }),
  'icboot/profiles/b.json': json({ kernel: 'b/linux' }),
  'icboot/profiles/default.json': json({ kernel: 'default/linux' }),
  'icboot/groups/a.json': json({ profile: 'a', selector: { mac: MAC_A }, metadata: { hostname: 'alpha' } }),
  // Written as firmware might print it: upper case, '-' separators.
  'icboot/groups/b.json': json({ profile: 'b', selector: { mac: MAC_B.toUpperCase().replaceAll(':', '-') } }),
  'icboot/groups/default.json': json({ profile: 'default' }),
};

interface Response {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One request with curl; `-g` so brackets and braces in a URL are sent as they are. */
async function curl(url: string, ...extra: string[]): Promise<Response> {
  const r = await run('curl', ['-sS', '-g', '-i', ...extra, url]);
  assert.equal(r.code, 0, `curl ${url}: ${r.stderr}`);
  const at = r.stdout.indexOf('\r\n\r\n');
  const [status, ...lines] = r.stdout.slice(0, at).split('\r\n');
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status: Number(status.split(' ')[1]), headers, body: r.stdout.slice(at + 4) };
}

describe('machine profiles through the gateway', () => {
  let devnet: RunningDevnet;
  let env: CliEnv;
  let gw: RunningGateway;
  const tree = writeTree('machines', MACHINES);
  const get = (path: string, ...extra: string[]): Promise<Response> => curl(`${gw.httpUrl}${path}`, ...extra);

  /** Uploads and publishes `dir`; resolves once the gateway serves the new release. */
  async function publish(dir: string): Promise<void> {
    const up = await icboot(['upload', dir], env);
    assert.equal(up.code, 0, up.stderr);
    const id = /release (\d+) published/.exec(up.stdout.toString())![1];
    await until(() => gw.logs.some((l) => l.includes(`now serving release ${id}`)), `gateway serving release ${id}`, 60_000, 100);
  }

  before(async () => {
    devnet = await startDevnetProcess();
    env = cliEnv(devnet.url);
    assert.equal((await icboot(['deploy'], env)).code, 0);
    const up = await icboot(['upload', tree], env);
    assert.equal(up.code, 0, up.stderr);
    gw = await startGateway(env, ['--poll', '1']);
  });

  after(async () => {
    await gw?.stop();
    await devnet?.stop();
    for (const d of [tree, devnet?.stateDir, env?.cwd]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('serves /boot.ipxe, which chains to /ipxe with the machine\'s settings', async () => {
    const r = await get('/boot.ipxe');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.ok(r.body.startsWith('#!ipxe'), r.body);
    assert.ok(r.body.includes(`${gw.httpUrl}/ipxe?`), r.body);
    for (const setting of ['mac', 'uuid', 'buildarch', 'platform', 'hostname', 'serial']) assert.match(r.body, new RegExp(`\\$\\{${setting}[:}]`), setting);
  });

  it('gives two MACs their own profiles and a third the default', async () => {
    const a = await get(`/ipxe?mac=${MAC_A}&uuid=&buildarch=x86_64&platform=pcbios&hostname=&serial=`);
    assert.equal(a.status, 200);
    assert.ok(a.body.startsWith('#!ipxe'));
    assert.ok(a.body.includes(`${gw.httpUrl}/a/linux`) && a.body.includes(`${gw.httpUrl}/a/initrd.gz`), a.body);
    // The kernel line is rendered with the address the request came to.
    assert.ok(a.body.includes(`seed=${gw.httpUrl}/cloud-init/${MAC_A}/`), a.body);
    const b = await get(`/ipxe?mac=${MAC_B.replaceAll(':', '-')}`);
    assert.ok(b.body.includes('/b/linux') && !b.body.includes('/a/linux'), b.body);
    const other = await get(`/ipxe?mac=${MAC_OTHER}`);
    assert.equal(other.status, 200);
    assert.ok(other.body.includes('/default/linux'), other.body);
    const head = await get(`/ipxe?mac=${MAC_A}`, '-I');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(Number(head.headers['content-length']), Buffer.byteLength((await get(`/ipxe?mac=${MAC_A}`)).body));
  });

  it('serves GRUB configs, NoCloud files and named templates', async () => {
    const grub = await get(`/grub?mac=${MAC_A}`);
    assert.equal(grub.status, 200);
    assert.ok(grub.body.includes('/a/linux'), grub.body);
    const meta = 'instance-id: a\nlocal-hostname: alpha\n';
    for (const path of [`/cloud-init/${MAC_A}/meta-data`, `/cloud-init/meta-data?mac=${MAC_A}`, `/cloud-init/mac=${MAC_A},arch=bios/meta-data`]) {
      const r = await get(path);
      assert.equal(r.status, 200, path);
      assert.equal(r.body, meta, path);
    }
    // Templates see the address the request came to, with the HTTP and the TFTP port.
    assert.equal((await get(`/cloud-init/${MAC_A}/user-data`)).body,
      `#cloud-config\nphone_home: {url: "${gw.httpUrl}/done"}\n# tftp 127.0.0.1:${gw.tftpPort}\n`);
    assert.equal((await get(`/generic?template=meta-data&mac=${MAC_A}`)).body, meta);
    // Profile b has no templates.
    assert.equal((await get(`/cloud-init/${MAC_B}/user-data`)).status, 404);
  });

  it('refuses bad input with a 4xx and a log line, and keeps serving', async () => {
    const cases: [string, number, string][] = [
      [`/ipxe?mac=52:54:00:zz:00:0a`, 400, 'mac'],
      [`/ipxe?mac=${MAC_A}&mac=${MAC_B}`, 400, 'mac'],
      [`/ipxe?hostname=%7B%7Bx%7D%7D`, 400, 'hostname'],
      [`/ipxe?hostname=a%0Achain%20http://evil/`, 400, 'hostname'],
      [`/ipxe?mac=%zz`, 400, 'percent-encoding'],
      [`/ipxe?__proto__=x`, 400, '__proto__'],
      [`/ipxe?mac=${MAC_A}&pad=${'x'.repeat(10_000)}`, 414, 'longer than'],
      [`/generic?template=nope&mac=${MAC_A}`, 404, 'nope'],
      [`/generic?mac=${MAC_A}`, 400, 'template'],
      [`/grub?mac=${MAC_A}&arch=sparc`, 400, 'arch'],
    ];
    for (const [path, status, names] of cases) {
      const r = await get(path);
      assert.equal(r.status, status, `${path.slice(0, 80)}: ${r.body}`);
      assert.ok(r.body.includes(names), `${path.slice(0, 80)}: the reply names ${names}: ${r.body}`);
      assert.ok(!r.body.includes('#!ipxe'), 'no script with a refusal');
    }
    for (const status of [400, 414, 404]) {
      await until(() => gw.logs.some((l) => l.includes(' GET /') && l.includes(` ${status}: `)), `a log line for ${status}`, 10_000, 50);
    }
    assert.equal((await get(`/ipxe?mac=${MAC_A}`)).status, 200, 'still serving');
  });

  it('answers a template error with 500 and the reason, never part of the output', async () => {
    const r = await get(`/generic?template=broken&mac=${MAC_A}`);
    assert.equal(r.status, 500);
    assert.ok(!r.body.includes('this names'), r.body);
    assert.ok(r.body.includes('no_such_variable'), r.body);
    await until(() => gw.logs.some((l) => l.includes(' 500: ')), 'a log line for the template error', 10_000, 50);
  });

  it('shows with `icboot machines` what a machine gets, from the tree and from the canister alike', async () => {
    const args = ['--mac', MAC_A, '--gateway-http', gw.httpUrl];
    const local = await icboot(['machines', tree, ...args], env);
    assert.equal(local.code, 0, local.stderr);
    const out = local.stdout.toString();
    assert.match(out, /^group: a, selects mac=52:54:00:00:00:0a$/m);
    assert.match(out, /^profile: a \(Profile A\)$/m);
    // The same script the gateway's /ipxe sends for the same selectors.
    const served = (await get(`/ipxe?mac=${MAC_A}`)).body;
    assert.ok(out.endsWith(served.endsWith('\n') ? served : served + '\n'), out);
    const certified = await icboot(['machines', ...args], env);
    assert.equal(certified.code, 0, certified.stderr);
    assert.equal(certified.stdout.toString(), out);
    const other = await icboot(['machines', tree, '--selector', 'rack=r1', '--arch', 'efi-arm64'], env);
    assert.equal(other.code, 0, other.stderr);
    assert.match(other.stdout.toString(), /^group: default, the default group$/m);
    const bad = await icboot(['machines', tree, '--mac', 'nope'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^icboot: selector "mac": /);
  });

  it('`icboot machines` refuses a local tree as upload would, naming the file and field', async () => {
    const broken = writeTree('machines-bad', { ...MACHINES, 'icboot/profiles/b.json': json({ kernel: 'b/vmlinuz' }) });
    try {
      const r = await icboot(['machines', broken, '--mac', MAC_B], env);
      assert.equal(r.code, 1);
      assert.ok(r.stderr.includes('icboot/profiles/b.json') && r.stderr.includes('kernel'), r.stderr);
      assert.equal(r.stdout.length, 0);
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });

  it('without a default group, sends a script that says why and stops', async () => {
    const noDefault = { ...MACHINES } as Record<string, string>;
    delete noDefault['icboot/groups/default.json'];
    const dir = writeTree('machines-nodefault', noDefault);
    try {
      await publish(dir);
      const r = await get(`/ipxe?mac=${MAC_OTHER}&buildarch=x86_64&platform=efi`);
      assert.equal(r.status, 200);
      assert.ok(r.body.startsWith('#!ipxe'), r.body);
      assert.ok(r.body.includes(`mac=${MAC_OTHER}`) && r.body.includes('arch=efi-x86_64'), r.body);
      assert.ok(!/^\s*(kernel|chain|boot)\b/m.test(r.body), r.body);
      await until(() => gw.logs.some((l) => l.includes(`/ipxe?mac=${MAC_OTHER}`) && l.includes('no group matches')), 'a log line saying why', 10_000, 50);
      assert.equal((await get(`/grub?mac=${MAC_OTHER}`)).status, 404);
      assert.ok((await get(`/ipxe?mac=${MAC_A}`)).body.includes('/a/linux'), 'matching machines still boot');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('in a release without icboot/, answers 404 and serves tree files of those names', async () => {
    const dir = writeTree('machines-plain', { 'pxelinux.0': 'pxe', 'boot.ipxe': '#!ipxe\necho the tree\'s own\n' });
    try {
      await publish(dir);
      const r = await get('/ipxe?mac=' + MAC_A);
      assert.equal(r.status, 404);
      assert.ok(r.body.includes('no icboot/ profiles'), r.body);
      assert.equal((await get('/boot.ipxe')).body, '#!ipxe\necho the tree\'s own\n');
      const m = await icboot(['machines', '--mac', MAC_A], env);
      assert.equal(m.code, 1);
      assert.ok(m.stderr.includes('no icboot/'), m.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

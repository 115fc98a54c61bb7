// `--json` and `--version` as a script reads them: one JSON document on
// stdout per command, against a devnet running the real canister.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CanisterStatus } from '@dfinity/agent';
import { Principal } from '@dfinity/principal';
import { connect } from '../client/canister.ts';
import { cliEnv, icboot, type CliEnv } from '../lab/cli.ts';
import { startDevnetProcess, tempDir, type RunningDevnet } from '../lab/devnet.ts';
import { walkTree } from '../uploader/walk.ts';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const DECIMAL = /^\d+$/;

/** Runs `icboot ARGS --json`, which must succeed, and parses its stdout. */
async function json(env: CliEnv, args: string[]): Promise<Record<string, any>> {
  const r = await icboot([...args, '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.toString()) as Record<string, any>;
}

describe('icboot --json', () => {
  let devnet: RunningDevnet;
  let env: CliEnv;
  let tree: string;
  let canisterId: string;

  before(async () => {
    devnet = await startDevnetProcess();
    env = cliEnv(devnet.url);
    tree = tempDir('json-tree');
    mkdirSync(join(tree, 'icboot', 'profiles'), { recursive: true });
    mkdirSync(join(tree, 'icboot', 'groups'));
    writeFileSync(join(tree, 'linux'), randomBytes(300_000));
    writeFileSync(join(tree, 'initrd.gz'), randomBytes(5000));
    writeFileSync(join(tree, 'icboot', 'profiles', 'debian.json'), JSON.stringify({ name: 'Debian', kernel: 'linux', initrd: ['initrd.gz'] }));
    writeFileSync(join(tree, 'icboot', 'groups', 'default.json'), JSON.stringify({ profile: 'debian' }));
  });

  after(async () => {
    await devnet?.stop();
    for (const d of [devnet?.stateDir, env?.cwd, tree]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('deploy: the canister, what was done, and whether it was created', async () => {
    const d = await json(env, ['deploy']);
    canisterId = Principal.fromText(d.canister).toText();
    assert.deepEqual(d, { network: devnet.url, host: devnet.url, canister: canisterId, action: 'installed', created: true, built: d.built });
    assert.equal(typeof d.built, 'boolean');
    assert.equal((await json(env, ['deploy'])).action, 'unchanged');
  });

  it('upload: counts, bytes and the release; an identical tree says it is unchanged', async () => {
    const files = walkTree(tree);
    const bytes = files.reduce((n, f) => n + f.size, 0);
    const u = await json(env, ['upload', tree]);
    assert.deepEqual(u, {
      network: devnet.url, host: devnet.url, canister: canisterId,
      file_count: files.length, bytes, chunk_count: files.length, new_chunk_count: files.length, reused_chunk_count: 0, bytes_sent: bytes, seconds: u.seconds,
      dry_run: false, unchanged: false, release: 1, published: true, cost: null,
    });
    assert.ok(typeof u.seconds === 'number' && u.seconds > 0);
    const again = await json(env, ['upload', tree]);
    assert.equal(again.unchanged, true);
    assert.equal(again.release, 1);
    assert.equal(again.bytes_sent, 0);
  });

  it('upload --dry-run: what would be sent and its cost, cycles as decimal strings', async () => {
    const u = await json(env, ['upload', tree, '--dry-run', '--force', '--label', 'priced']);
    assert.equal(u.dry_run, true);
    assert.equal(u.release, null);
    assert.equal(u.bytes_sent, 0, 'every chunk is stored already');
    assert.equal(u.cost.subnet_size, 13);
    for (const k of ['ingress', 'execution', 'total', 'storage_per_year']) assert.match(u.cost[k], DECIMAL, k);
    assert.equal(BigInt(u.cost.total), BigInt(u.cost.ingress) + BigInt(u.cost.execution));
    assert.equal(typeof u.cost.stored_bytes, 'number');
  });

  it('ls: the release and each file with size and SHA-256', async () => {
    const l = await json(env, ['ls']);
    assert.equal(l.canister, canisterId);
    assert.equal(l.release, 1);
    assert.equal(l.label, basename(tree), 'the default label: the directory\'s name');
    assert.match(l.created, ISO);
    assert.equal(l.chunk_size, 1024 * 1024);
    assert.deepEqual(l.files, walkTree(tree).map((f) => ({
      path: f.path, size: f.size, sha256: createHash('sha256').update(readFileSync(f.source)).digest('hex'),
    })));
  });

  it('releases: the current id and every release', async () => {
    const r = await json(env, ['releases']);
    assert.deepEqual([r.network, r.host, r.canister], [devnet.url, devnet.url, canisterId]);
    assert.equal(r.current, 1);
    assert.equal(r.releases.length, 1);
    const [one] = r.releases;
    assert.deepEqual(Object.keys(one), ['release', 'current', 'created', 'file_count', 'bytes', 'author', 'label', 'manifest_sha256']);
    assert.equal(one.release, 1);
    assert.equal(one.file_count, walkTree(tree).length);
    assert.equal(one.current, true);
    assert.match(one.created, ISO);
    assert.match(one.manifest_sha256, /^[0-9a-f]{64}$/);
  });

  it('status: the counters, cycles as a decimal string, and the controller-only part', async () => {
    const s = await json(env, ['status']);
    assert.deepEqual([s.network, s.host, s.canister], [devnet.url, devnet.url, canisterId]);
    assert.equal(s.release_count, 1);
    assert.equal(s.current, 1);
    assert.equal(s.chunk_count, walkTree(tree).length, 'one chunk per file');
    assert.equal(s.unused_chunk_count, 0);
    assert.equal(typeof s.authorized_count, 'number');
    assert.equal(s.release_bytes, walkTree(tree).reduce((n, f) => n + f.size, 0));
    assert.equal(s.dedup_ratio, s.release_bytes / s.chunk_bytes);
    assert.match(s.cycles, DECIMAL);
    assert.equal(typeof s.controller.memory_bytes, 'number');
    assert.match(s.controller.idle_burn_per_day, DECIMAL);
    assert.match(s.controller.freezing_threshold, DECIMAL);
  });

  it('machines: the group, profile and script a machine gets', async () => {
    const m = await json(env, ['machines', '--mac', '52:54:00:12:34:56', '--gateway-http', 'http://10.0.0.1:8080']);
    assert.deepEqual([m.network, m.host, m.canister, m.release, m.dir], [devnet.url, devnet.url, canisterId, 1, null]);
    assert.deepEqual(m.selectors, { mac: '52:54:00:12:34:56' });
    assert.deepEqual(m.group, { id: 'default', name: 'default', selector: {} });
    assert.deepEqual(m.profile, { id: 'debian', name: 'Debian' });
    assert.equal(m.endpoint, 'ipxe');
    assert.match(m.script, /^#!ipxe\n[^]*http:\/\/10\.0\.0\.1:8080\/linux/);
    const local = await json(env, ['machines', tree, '--mac', '52:54:00:12:34:56']);
    assert.deepEqual([local.network, local.host, local.canister, local.release, local.dir], [null, null, null, null, tree]);
    assert.deepEqual(local.profile, { id: 'debian', name: 'Debian' });
  });

  it('--version: the hash of the module deploy installed, as canister_status reports it', async () => {
    const r = await icboot(['--version'], env);
    assert.equal(r.code, 0, r.stderr);
    const c = await connect({ network: devnet.url, identity: 'anonymous' });
    const installed = (await CanisterStatus.request({ agent: c.agent, canisterId: Principal.fromText(canisterId), paths: ['module_hash'] })).get('module_hash');
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(r.stdout.toString(), `icboot ${pkg.version}\ncanister module sha256 ${String(installed)}\nnode ${process.version}\n`);
    assert.deepEqual((await icboot(['-V'], env)).stdout, r.stdout);
  });

  it('an error is still one line on stderr, exit 1, and nothing on stdout', async () => {
    const r = await icboot(['ls', '--release', '99', '--json'], env);
    assert.equal(r.code, 1);
    assert.equal(r.stdout.length, 0);
    assert.match(r.stderr, /^icboot: [^\n]+\n$/);
  });
});

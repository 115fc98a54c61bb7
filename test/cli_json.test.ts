// `--json` and `--version` as a script reads them: one JSON document on
// stdout per command, against a devnet running the real canister.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Principal } from '@dfinity/principal';
import { icbootModule } from '../canister/icboot_module.ts';
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
    assert.deepEqual(d, { canister: canisterId, network: devnet.url, host: devnet.url, action: 'installed', created: true, built: d.built });
    assert.equal(typeof d.built, 'boolean');
    assert.equal((await json(env, ['deploy'])).action, 'unchanged');
  });

  it('upload: counts, bytes and the release; an identical tree says it is unchanged', async () => {
    const files = walkTree(tree);
    const bytes = files.reduce((n, f) => n + f.size, 0);
    const u = await json(env, ['upload', tree]);
    assert.deepEqual(u, {
      files: files.length, bytes, chunks: files.length, new_chunks: files.length, reused_chunks: 0, bytes_sent: bytes, seconds: u.seconds,
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
    assert.equal(l.release, 1);
    assert.equal(l.label, tree);
    assert.match(l.created, ISO);
    assert.equal(l.chunk_size, 1024 * 1024);
    assert.deepEqual(l.files, walkTree(tree).map((f) => ({
      path: f.path, size: f.size, sha256: createHash('sha256').update(readFileSync(f.source)).digest('hex'),
    })));
  });

  it('releases: the current id and every release', async () => {
    const r = await json(env, ['releases']);
    assert.equal(r.current, 1);
    assert.equal(r.releases.length, 1);
    const [one] = r.releases;
    assert.deepEqual(Object.keys(one), ['id', 'current', 'created', 'files', 'bytes', 'author', 'label', 'manifest_sha256']);
    assert.equal(one.id, 1);
    assert.equal(one.current, true);
    assert.match(one.created, ISO);
    assert.match(one.manifest_sha256, /^[0-9a-f]{64}$/);
  });

  it('status: the counters, cycles as a decimal string, and the controller-only part', async () => {
    const s = await json(env, ['status']);
    assert.equal(s.canister, canisterId);
    assert.equal(s.releases, 1);
    assert.equal(s.current, 1);
    assert.equal(s.chunks, walkTree(tree).length, 'one chunk per file');
    assert.equal(s.unused_chunks, 0);
    assert.equal(s.release_bytes, walkTree(tree).reduce((n, f) => n + f.size, 0));
    assert.equal(s.dedup_ratio, s.release_bytes / s.chunk_bytes);
    assert.match(s.cycles, DECIMAL);
    assert.equal(typeof s.controller.memory_bytes, 'number');
    assert.match(s.controller.idle_burn_per_day, DECIMAL);
    assert.match(s.controller.freezing_threshold, DECIMAL);
  });

  it('machines: the group, profile and script a machine gets', async () => {
    const m = await json(env, ['machines', '--mac', '52:54:00:12:34:56', '--gateway-http', 'http://10.0.0.1:8080']);
    assert.equal(m.source, 'release 1');
    assert.deepEqual(m.selectors, { mac: '52:54:00:12:34:56' });
    assert.deepEqual(m.group, { id: 'default', name: 'default', selector: {} });
    assert.deepEqual(m.profile, { id: 'debian', name: 'Debian' });
    assert.equal(m.endpoint, 'ipxe');
    assert.match(m.script, /^#!ipxe\n[^]*http:\/\/10\.0\.0\.1:8080\/linux/);
  });

  it('an error is still one line on stderr, exit 1, and nothing on stdout', async () => {
    const r = await icboot(['ls', '--release', '99', '--json'], env);
    assert.equal(r.code, 1);
    assert.equal(r.stdout.length, 0);
    assert.match(r.stderr, /^icboot: [^\n]+\n$/);
  });
});

describe('icboot --version', () => {
  it('prints the package version, the hash of the module deploy installs, and the Node version', async () => {
    const env = cliEnv('http://127.0.0.1:9');
    try {
      for (const flag of ['--version', '-V']) {
        const r = await icboot([flag], env);
        assert.equal(r.code, 0, r.stderr);
        const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
        // After the command: it built the module if its sources changed, so this reads that build.
        const hash = createHash('sha256').update((await icbootModule()).module).digest('hex');
        assert.equal(r.stdout.toString(), `icboot ${pkg.version}\ncanister module sha256 ${hash}\nnode ${process.version}\n`);
      }
    } finally {
      rmSync(env.cwd, { recursive: true, force: true });
    }
  });
});

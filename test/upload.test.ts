// `icboot upload` against the devnet with the real Debian 12 netboot tree.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { icbootCanister } from '../client/canister.ts';
import type { IcbootService } from '../common/icboot_idl.ts';
import { VerifiedReader } from '../client/verify.ts';
import { walkTree } from '../uploader/walk.ts';
import { deployWithCli, icboot, newPem, type CliEnv } from '../lab/cli.ts';
import { REPO, startDevnetProcess, tempDir, type RunningDevnet } from '../lab/devnet.ts';
import { until } from '../lab/poll.ts';
import { DEBIAN_NETBOOT, debianNetboot } from '../cli/sample.ts';

describe('icboot upload', () => {
  let devnet: RunningDevnet;
  let env: CliEnv;
  let canister: IcbootService;
  let reader: VerifiedReader;

  before(async () => {
    debianNetboot();
    devnet = await startDevnetProcess();
    const d = await deployWithCli(devnet.url);
    env = d.env;
    canister = icbootCanister(d.owner, d.canisterId);
    reader = new VerifiedReader(canister, d.owner.agent, d.canisterId);
  });

  after(async () => {
    await devnet?.stop();
    for (const d of [devnet?.stateDir, env?.cwd]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('uploads the Debian netboot tree and every file reads back byte-identical', async () => {
    const r = await icboot(['upload', DEBIAN_NETBOOT, '--label', 'debian 12'], env);
    assert.equal(r.code, 0, r.stderr);
    const tree = walkTree(DEBIAN_NETBOOT);
    assert.match(r.stdout.toString(), new RegExp(`^${tree.length} files, .* sent .*\\nrelease 1 published\\n$`));
    const m = await reader.manifest(await reader.index());
    assert.deepEqual(m.files.map((f) => f.path), tree.map((f) => f.path));
    // pxelinux.0 is a symlink into debian-installer/ in the package: it holds the target's bytes.
    assert.ok(m.files.some((f) => f.path === 'pxelinux.0'));
    for (const f of m.files) {
      const parts: Uint8Array[] = [];
      for await (const p of reader.file(f)) parts.push(p);
      const local = readFileSync(realpathSync(join(DEBIAN_NETBOOT, f.path)));
      assert.ok(Buffer.concat(parts).equals(local), `${f.path} differs`);
    }
  });

  it('sends no chunk bytes when the tree is unchanged', async () => {
    const r = await icboot(['upload', DEBIAN_NETBOOT, '--label', 'again'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /\(0 new, \d+ reused\), sent 0 B in/);
    assert.match(r.stdout.toString(), /release 2 published/);
  });

  it('resumes an interrupted upload, sending only what is missing', async () => {
    const dir = tempDir('resume');
    for (let i = 0; i < 12; i++) writeFileSync(join(dir, `part${i}.img`), randomBytes(1024 * 1024 * 2));
    const before = (await canister.status()).chunks;
    const child = spawn(process.execPath, [join(REPO, 'cli', 'icboot.js'), 'upload', dir, '--concurrency', '1'], { cwd: env.cwd, env: env.env });
    const exited = new Promise((r) => child.on('exit', r));
    // Kill it once some, but not all, of its 24 chunks are stored.
    await until(async () => (await canister.status()).chunks - before >= 4n, 'the interrupted upload storing 4 chunks', 120_000, 20);
    child.kill('SIGKILL');
    await exited;
    const partial = (await canister.status()).chunks - before;
    assert.ok(partial > 0n && partial < 24n, `killed midway (${partial} of 24 chunks stored)`);
    const r = await icboot(['upload', dir], env);
    assert.equal(r.code, 0, r.stderr);
    const newChunks = Number(/\((\d+) new, (\d+) reused\)/.exec(r.stdout.toString())![1]);
    assert.equal(BigInt(newChunks), 24n - partial, 'only the missing chunks are sent');
    assert.match(r.stdout.toString(), new RegExp(`sent ${24n - partial}\\.0 MiB`));
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a symlink that leaves the tree, and publishes nothing', async () => {
    const dir = tempDir('escape');
    mkdirSync(join(dir, 'boot'));
    writeFileSync(join(dir, 'boot', 'ok.cfg'), 'fine');
    symlinkSync('/etc/passwd', join(dir, 'boot', 'passwd'));
    const releases = (await canister.status()).releases;
    const r = await icboot(['upload', dir], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /boot\/passwd: symlink points outside the tree/);
    assert.equal((await canister.status()).releases, releases);
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a machine profile naming a file the tree lacks, and sends nothing', async () => {
    const dir = tempDir('profiles');
    mkdirSync(join(dir, 'icboot', 'profiles'), { recursive: true });
    mkdirSync(join(dir, 'icboot', 'groups'));
    writeFileSync(join(dir, 'linux'), randomBytes(4096));
    writeFileSync(join(dir, 'icboot', 'profiles', 'debian.json'), JSON.stringify({ kernel: 'linux', initrd: ['initrd.gz'] }));
    writeFileSync(join(dir, 'icboot', 'groups', 'default.json'), JSON.stringify({ profile: 'debian' }));
    const before = await canister.status();
    const r = await icboot(['upload', dir], env);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').pop(), 'icboot: icboot/profiles/debian.json: "initrd[0]": "initrd.gz" is not in the tree');
    const now = await canister.status();
    assert.equal(now.releases, before.releases);
    assert.deepEqual(now.current, before.current);
    assert.equal(now.chunks, before.chunks);
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses an identity without write rights and publishes nothing', async () => {
    const dir = tempDir('denied');
    writeFileSync(join(dir, 'new.bin'), randomBytes(4096));
    const stranger = newPem();
    const before = await canister.status();
    const r = await icboot(['upload', dir, '--pem', stranger.path], env);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').pop(), `icboot: ${stranger.principal} is not authorized to write; a controller can run \`icboot authorize ${stranger.principal}\``);
    const now = await canister.status();
    assert.equal(now.releases, before.releases);
    assert.deepEqual(now.current, before.current);
    assert.equal(now.chunks, before.chunks);
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates nothing for a tree the current release holds, however DIR is spelled, and names that release; --force creates one anyway', async () => {
    const dir = tempDir('identical');
    writeFileSync(join(dir, 'boot.img'), randomBytes(64 * 1024));
    const first = await icboot(['upload', dir], env);
    assert.equal(first.code, 0, first.stderr);
    const id = Number(/release (\d+) published/.exec(first.stdout.toString())![1]);
    const before = await canister.status();
    // The default label is the directory's name, so another spelling of the same directory is the same upload.
    const again = await icboot(['upload', `${relative(env.cwd, dir)}/`], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout.toString(), new RegExp(`\\nrelease ${id} is current and holds this tree already: nothing created \\(--force creates a new release\\)\\n$`));
    const now = await canister.status();
    assert.equal(now.releases, before.releases);
    assert.deepEqual(now.current, [BigInt(id)]);
    const forced = await icboot(['upload', dir, '--force'], env);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout.toString(), new RegExp(`\\(0 new, 1 reused\\), sent 0 B in .*\\nrelease ${id + 1} published\\n$`));
    assert.deepEqual((await canister.status()).current, [BigInt(id + 1)]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('on Ctrl-C says what was sent and that the same command resumes, exits 130, and the re-run sends only the rest', async () => {
    const dir = tempDir('sigint');
    const total = 40;
    for (let i = 0; i < total; i++) writeFileSync(join(dir, `part${i}.img`), randomBytes(1024 * 1024));
    const before = (await canister.status()).chunks;
    const child = spawn(process.execPath, [join(REPO, 'cli', 'icboot.js'), 'upload', dir, '--concurrency', '1'], { cwd: env.cwd, env: env.env });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // The progress log shows chunks stored: interrupt then, as an operator would.
    await until(() => new RegExp(`^sending .*, [1-9]\\d*/${total} chunks`, 'm').test(stderr), 'progress showing chunks sent', 120_000, 20);
    child.kill('SIGINT');
    assert.equal(await exited, 130, stderr);
    const said = new RegExp(`^upload interrupted: sent (\\d+) of ${total} chunks \\(([\\d.]+) MiB of ${total}\\.0 MiB\\); run the same command again to resume, it sends only what is still missing$`)
      .exec(stderr.trim().split('\n').pop()!);
    assert.ok(said, stderr);
    const sent = Number(said[1]);
    assert.equal(Number(said[2]), sent, 'each chunk is 1 MiB');
    // A call in flight when the signal came may have landed too: the canister holds at least what was reported.
    const stored = Number((await canister.status()).chunks - before);
    assert.ok(sent >= 1 && sent <= stored && stored < total, `sent ${sent}, stored ${stored} of ${total}`);
    const r = await icboot(['upload', dir], env);
    assert.equal(r.code, 0, r.stderr);
    // A call in flight at the kill may land after `stored` was read: the re-run reuses at least what was stored, and sends the rest.
    const rerun = /\((\d+) new, (\d+) reused\), sent (\d+)\.0 MiB in .*\nrelease \d+ published\n$/.exec(r.stdout.toString());
    assert.ok(rerun, r.stdout.toString());
    const [fresh, reused, mib] = rerun.slice(1).map(Number);
    assert.equal(fresh + reused, total);
    assert.ok(reused >= stored, `reused ${reused}, stored ${stored}`);
    assert.equal(mib, fresh, 'each chunk is 1 MiB');
    rmSync(dir, { recursive: true, force: true });
  });
});

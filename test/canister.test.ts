// The icboot canister on the devnet, through `icboot` commands and the client
// modules over @dfinity/agent: storage, releases, certification, access, GC.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Principal } from '@dfinity/principal';
import { connect, icbootCanister, type Connection } from '../client/canister.ts';
import { icbootMethods, type IcbootService } from '../common/icboot_idl.ts';
import { VerifiedReader } from '../client/verify.ts';
import { MAX_CHUNK_BYTES } from '../common/limits.ts';
import { upload, type UploadReport } from '../uploader/upload.ts';
import { deployWithCli, icboot, newPem, type CliEnv } from '../lab/cli.ts';
import { startDevnetProcess, tempDir, type RunningDevnet } from '../lab/devnet.ts';

const MiB = 1024 * 1024;
const opts = { label: 'test', chunkSize: MiB, concurrency: 4, dryRun: false, publish: true };

/** A canister of the test's own and what it takes to use it, as its controller. */
interface Deployment {
  env: CliEnv;
  canisterId: Principal;
  owner: Connection;
  canister: IcbootService;
  reader: VerifiedReader;
}

async function readAll(reader: VerifiedReader, path: string, release?: number): Promise<Buffer> {
  const m = await reader.manifest(await reader.index(), release);
  const file = m.files.find((f) => f.path === path);
  assert.ok(file, `${path} is in release ${m.id}`);
  const parts: Uint8Array[] = [];
  for await (const p of reader.file(file)) parts.push(p);
  return Buffer.concat(parts);
}

describe('icboot canister', () => {
  let devnet: RunningDevnet;
  const dirs: string[] = [];
  /** The boot tree the upload cases send: nested dirs, an empty file, a file over 64 MiB and a symlink. */
  const tree = tempDir('tree');
  /** A tree of one 30-byte file, for cases that need a release but not the large file. */
  const small = tempDir('small');
  const big = randomBytes(65 * MiB + 12345);
  /** The release lifecycle needs chunks to reclaim, not the large file: the same shape with a 6-chunk file. */
  const lifecycle = tempDir('lifecycle');
  const kernel = randomBytes(5 * MiB + 12345);

  before(async () => {
    devnet = await startDevnetProcess();
    mkdirSync(join(tree, 'pxelinux.cfg'));
    mkdirSync(join(tree, 'debian', 'amd64'), { recursive: true });
    writeFileSync(join(tree, 'pxelinux.cfg', 'default'), 'default install\nlabel install\n');
    writeFileSync(join(tree, 'debian', 'amd64', 'linux'), big);
    writeFileSync(join(tree, 'debian', 'amd64', 'empty.cfg'), '');
    writeFileSync(join(tree, 'copy-of-default'), 'default install\nlabel install\n');
    symlinkSync('debian/amd64/linux', join(tree, 'vmlinuz'));
    mkdirSync(join(small, 'pxelinux.cfg'));
    mkdirSync(join(lifecycle, 'pxelinux.cfg'));
    writeFileSync(join(lifecycle, 'pxelinux.cfg', 'default'), 'default install\nlabel install\n');
    writeFileSync(join(lifecycle, 'linux'), kernel);
    writeFileSync(join(small, 'pxelinux.cfg', 'default'), 'default install\nlabel install\n');
  });

  after(async () => {
    await devnet?.stop();
    for (const d of [tree, small, lifecycle, devnet?.stateDir, ...dirs]) if (d) rmSync(d, { recursive: true, force: true });
  });

  /** A new canister deployed by `icboot deploy` from a config home of its own. */
  async function deployCanister(): Promise<Deployment> {
    const { env, canisterId, owner } = await deployWithCli(devnet.url);
    dirs.push(env.cwd);
    const canister = icbootCanister(owner, canisterId);
    return { env, canisterId, owner, canister, reader: new VerifiedReader(canister, owner.agent, canisterId) };
  }

  /** A new canister whose release 1, labelled 'test' and published, is `dir`. */
  async function canisterWith(dir: string): Promise<Deployment & { upload: UploadReport }> {
    const d = await deployCanister();
    return { ...d, upload: await upload(d.canister, dir, opts) };
  }

  // Uploading the large tree is the slow part, so the cases that only read it,
  // add unpublished releases or upgrade the code share one canister holding it;
  // none of that changes what the others assert, in any order.
  let treeCanister: ReturnType<typeof canisterWith> | undefined;
  const withTree = (): ReturnType<typeof canisterWith> => (treeCanister ??= canisterWith(tree));

  it('round-trips a tree with nested dirs, an empty file and a file over 64 MiB', async () => {
    const { upload: r, reader, env } = await withTree();
    assert.equal(r.files, 5);
    assert.equal(r.releaseId, 1n);
    assert.ok(r.published);
    assert.deepEqual(await readAll(reader, 'debian/amd64/linux'), big);
    // The symlink holds its target's bytes: the same certified entry (the upgrade case reads it whole).
    const { files } = await reader.manifest(await reader.index());
    const entry = (path: string) => {
      const { size, sha256, chunks } = files.find((f) => f.path === path)!;
      return { size, sha256, chunks };
    };
    assert.deepEqual(entry('vmlinuz'), entry('debian/amd64/linux'));
    assert.equal((await readAll(reader, 'debian/amd64/empty.cfg')).length, 0);
    const cat = await icboot(['cat', '/pxelinux.cfg/default'], env);
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout.toString(), 'default install\nlabel install\n');
    const ls = await icboot(['ls'], env);
    assert.deepEqual(ls.stdout.toString().trim().split('\n'),
      ['copy-of-default', 'debian/amd64/empty.cfg', 'debian/amd64/linux', 'pxelinux.cfg/default', 'vmlinuz']);
  });

  it('stores an identical chunk once', async () => {
    const { canister } = await withTree();
    const s = await canister.status();
    // linux and vmlinuz share 66 chunks; default and its copy share one.
    assert.equal(s.chunks, 66n + 1n);
    assert.equal(s.chunk_bytes, BigInt(big.length + 'default install\nlabel install\n'.length));
    const again = await upload(canister, tree, { ...opts, publish: false });
    assert.equal(again.newChunks, 0);
    assert.equal(again.bytesSent, 0);
    assert.equal((await canister.status()).chunks, 67n);
  });

  it('rejects writes from principals that are not authorized', async () => {
    const { env, canisterId } = await deployCanister();
    const stranger = await connect({ network: devnet.url, pem: newPem().path });
    const theirs = icbootCanister(stranger, canisterId);
    const chunk = { hash: new Uint8Array(32), data: new Uint8Array([1]) };
    await assert.rejects(theirs.put_chunks([chunk]), /is not authorized to write/);
    await assert.rejects(theirs.publish(1n), /is not authorized to write/);
    await assert.rejects(theirs.authorize(stranger.identity.getPrincipal()), /only controllers/);
    const me = stranger.identity.getPrincipal().toText();
    assert.equal((await icboot(['authorize', me], env)).code, 0);
    assert.equal(await theirs.put_chunks([chunk]), 1);
    assert.equal((await icboot(['deauthorize', me], env)).code, 0);
    await assert.rejects(theirs.put_chunks([chunk]), /is not authorized to write/);
    const anyone = await icboot(['authorize', '2vxsx-fae'], env);
    assert.match(anyone.stderr, /anonymous principal cannot be authorized/);
    const viaCli = await icboot(['publish', '1', '--pem', newPem().path], env);
    assert.equal(viaCli.code, 1);
    assert.match(viaCli.stderr, /^icboot: \S+ is not authorized to write; a controller can run `icboot authorize/);
    assert.equal(viaCli.stderr.trim().split('\n').length, 1, 'one line, no stack trace');
  });

  it('validates paths, chunk sizes and manifests', async () => {
    const { canister, reader } = await canisterWith(small);
    const { releases } = await canister.status();
    const hash = await firstChunkOf(reader);
    const release = (path: string, size = 30n, chunks = [hash]) => canister.create_release({
      label: 'bad', chunk_size: MiB, files: [{ path, size, sha256: new Uint8Array(32), chunks }],
    });
    for (const [path, why] of [
      ['../etc/passwd', /"\.\." segment/], ['a//b', /empty segment/], ['/abs', /relative/], ['a\0b', /NUL/],
      ['x'.repeat(300), /segment longer/], ['a/'.repeat(40) + 'b', /deeper than/], ['dos\\path', /backslash/], ['', /empty/],
    ] as const) {
      await assert.rejects(release(path), why, path);
    }
    await assert.rejects(release('ok', 31n), /chunks add up to 30 bytes, not 31|is 30 bytes, expected 31/);
    await assert.rejects(release('ok', 30n, [randomBytes(32)]), /has not been uploaded/);
    await assert.rejects(release('ok', 30n, []), /need 1 chunks/);
    await assert.rejects(canister.put_chunks([{ hash: new Uint8Array(32), data: new Uint8Array(MAX_CHUNK_BYTES + 1) }]), /a chunk must be 1 to/);
    await assert.rejects(canister.put_chunks([{ hash: new Uint8Array(31), data: new Uint8Array(1) }]), /32 bytes/);
    await assert.rejects(canister.create_release({ label: 'dup', chunk_size: MiB, files: [
      { path: 'a', size: 30n, sha256: new Uint8Array(32), chunks: [hash] },
      { path: 'a/b', size: 30n, sha256: new Uint8Array(32), chunks: [hash] },
    ] }), /both a file and a directory/);
    assert.equal((await canister.status()).releases, releases, 'no release was created');
  });

  it('refuses an index or manifest that does not match the certified data', async () => {
    const { canister, reader, owner, canisterId } = await canisterWith(small);
    const lying = (patch: Partial<IcbootService>): VerifiedReader =>
      new VerifiedReader({ ...canisterMethods(canister), ...patch }, owner.agent, canisterId);
    const real = await canister.index_certified();
    const forgedIndex = new TextEncoder().encode(new TextDecoder().decode(real.index).replace('"current":1', '"current":2'));
    await assert.rejects(lying({ index_certified: async () => ({ ...real, index: forgedIndex }) }).index(), /does not match the canister's certified data/);
    await assert.rejects(lying({ index_certified: async () => ({ ...real, certificate: [] }) }).index(), /no data certificate/);
    const [manifest] = await canister.manifest(1n);
    const forged = new TextEncoder().encode(new TextDecoder().decode(manifest!).replace('"label":"test"', '"label":"evil"'));
    const r = lying({ manifest: async () => [forged] });
    await assert.rejects(r.manifest(await r.index(), 1), /does not match its certified hash/);
    const chunk = await firstChunkOf(reader);
    const corrupt = lying({ get_chunk: async () => [new Uint8Array(30)] });
    await assert.rejects(corrupt.chunk(Buffer.from(chunk).toString('hex')), /does not match its hash/);
    const wrongKey = new Uint8Array(owner.agent.rootKey!);
    wrongKey[wrongKey.length - 1] ^= 1;
    const other = await connect({ network: devnet.url, pem: newPem().path });
    (other.agent as unknown as { rootKey: Uint8Array }).rootKey = wrongKey;
    // Refused by the agent (subnet keys) or by our certificate check, whichever looks first.
    await assert.rejects(new VerifiedReader(icbootCanister(other, canisterId), other.agent, canisterId).index(), /[Cc]ertificate verification/);
  });

  it('keeps everything across an upgrade, and certified data still verifies', async () => {
    const { canister, reader, env, canisterId } = await withTree();
    const before = await canister.status();
    const r = await icboot(['deploy', '--mode', 'upgrade'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString().trim(), canisterId.toText());
    const { cycles, ...after } = await canister.status();
    const { cycles: cyclesBefore, ...rest } = before;
    assert.deepEqual(after, rest);
    assert.ok(cycles < cyclesBefore, 'the upgrade was paid for');
    const { index } = await reader.index();
    assert.equal(index.current, 1);
    assert.deepEqual(await readAll(reader, 'vmlinuz'), big);
  });

  it('deploys twice to the same canister id', async () => {
    const { env, canisterId } = await deployCanister();
    const r = await icboot(['deploy'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString().trim(), canisterId.toText());
    assert.match(r.stderr, /module unchanged/);
  });

  it('publishes releases, deletes old ones and reclaims their chunks', async () => {
    // Release 1 (published) and 2 hold the tree; a writer's upload no release names yet.
    const { canister, reader, env } = await canisterWith(lifecycle);
    await upload(canister, lifecycle, { ...opts, publish: false });
    await canister.put_chunks([{ hash: new Uint8Array(32), data: new Uint8Array([1]) }]);
    const other = tempDir('tree2');
    dirs.push(other);
    writeFileSync(join(other, 'only-here'), randomBytes(3 * MiB));
    writeFileSync(join(other, 'pxelinux.0'), 'default install\nlabel install\n');
    const second = await upload(canister, other, { ...opts, label: 'second' });
    assert.equal(second.releaseId, 3n);
    const releases = (await icboot(['releases'], env)).stdout.toString();
    assert.match(releases, /^\*3 /m);
    assert.equal((await icboot(['publish', '1'], env)).code, 0);
    assert.equal((await reader.index()).index.current, 1);
    assert.equal((await icboot(['publish', '3'], env)).code, 0);
    const current = await icboot(['delete', '3'], env);
    assert.match(current.stderr, /is current/);
    const before = await canister.status();
    for (const id of ['1', '2']) {
      const d = await icboot(['delete', id], env);
      assert.equal(d.code, 0, d.stderr);
    }
    const afterGc = await canister.status();
    assert.equal(afterGc.releases, 1);
    // The 6 chunks of linux are gone; the shared config chunk stays, and so
    // does the stray chunk a writer uploaded today (its release may be coming).
    assert.equal(afterGc.chunks, before.chunks - 6n);
    assert.equal(afterGc.chunk_bytes, before.chunk_bytes - BigInt(kernel.length));
    assert.equal(afterGc.garbage_chunks, 1n);
    assert.equal((await readAll(reader, 'pxelinux.0')).toString(), 'default install\nlabel install\n');
  });
});

async function firstChunkOf(reader: VerifiedReader): Promise<Uint8Array> {
  const m = await reader.manifest(await reader.index());
  return Buffer.from(m.files.find((f) => f.chunks.length > 0)!.chunks[0], 'hex');
}

/** The actor's methods as a plain object, so a test can replace some with a lying node's answers. */
function canisterMethods(c: IcbootService): IcbootService {
  const names = Object.keys(icbootMethods) as (keyof IcbootService)[];
  return Object.fromEntries(names.map((n) => [n, (...a: unknown[]) => (c[n] as (...x: unknown[]) => unknown)(...a)])) as unknown as IcbootService;
}

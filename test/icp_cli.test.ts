// DFINITY's icp CLI against the devnet, as a user runs it: the repository's
// icp.yaml unchanged, so plain `icp deploy` targets `icboot devnet` on its
// default address, and `icboot` commands find the id icp-cli recorded. The
// devnet and both command lines run in a network namespace of the test's own,
// where 127.0.0.1:4943 is free whatever else runs on the machine.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { icpRecord } from '../client/canister.ts';
import { identityFromPem } from '../client/identity.ts';
import { icbootModule, type IcbootModule } from '../canister/icboot_module.ts';
import { cliEnv, icboot as icbootIn, type CliEnv } from '../lab/cli.ts';
import { REPO, tempDir } from '../lab/devnet.ts';
import { icp, icpEnv, type IcpEnv } from '../lab/icp.ts';
import { Netns } from '../lab/netns.ts';
import { startUntil, type Ran, type Started } from '../lab/process.ts';

const ANONYMOUS = '2vxsx-fae';
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Exit code 0, or a failure showing what the command said; returns stdout. */
function ok(r: Ran, what: string): string {
  assert.equal(r.code, 0, `${what}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout.toString();
}

describe('icp-cli against the devnet', () => {
  const ns = new Netns(false, '', 'icboot-icp');
  const stateDir = tempDir('icp-devnet');
  const project = tempDir('icp-project');
  const tree = tempDir('icp-tree');
  let devnet: Started | undefined;
  let built: IcbootModule;
  let e: IcpEnv;
  let cli: CliEnv;
  let id: string;
  let alice: string;
  let alicePem: string;
  let bob: string;

  const icboot = (args: string[]): Promise<Ran> => icbootIn(args, cli);
  const status = async (): Promise<string> => ok(await icp(['canister', 'status', id], e), 'canister status');
  /** `who`'s balance on the devnet's cycles ledger. */
  const balance = async (who: string): Promise<bigint> => {
    const out = ok(await icp(['cycles', 'balance', '--identity', who], e), `cycles balance ${who}`);
    const m = /^Balance: ([\d_]+) cycles$/m.exec(out);
    assert.ok(m, out);
    return BigInt(m[1].replaceAll('_', ''));
  };

  before(async () => {
    // Built once here (canister/build.ts caches it), so icp's build step only gzips.
    built = await icbootModule();
    ns.create();
    devnet = await startUntil('devnet', [join(REPO, 'cli', 'icboot.js'), 'devnet', '--state-dir', stateDir],
      [/devnet listening on http:\/\/127\.0\.0\.1:4943/], { prefix: ['ip', 'netns', 'exec', ns.name], timeoutMs: 60_000 });
    // A project as a user's checkout has it: icp.yaml, and what its build step runs.
    copyFileSync(join(REPO, 'icp.yaml'), join(project, 'icp.yaml'));
    for (const d of ['canister', 'node_modules']) symlinkSync(join(REPO, d), join(project, d));
    e = icpEnv(project, ns.name);
    cli = { ...cliEnv('local'), cwd: project, netns: ns.name };
    mkdirSync(join(tree, 'pxelinux.cfg'));
    writeFileSync(join(tree, 'pxelinux.cfg', 'default'), 'default install\n');
  });

  after(async () => {
    await devnet?.stop();
    await ns.destroy();
    for (const d of [stateDir, project, tree, e?.home, cli?.env.HOME]) {
      if (d) rmSync(d, { recursive: true, force: true });
    }
  });

  it('identity new, list, principal and default; icboot reads the key icp wrote', async () => {
    assert.match(ok(await icp(['identity', 'new', 'alice', '--storage', 'plaintext'], e), 'identity new'), /^Your seed phrase: (\S+ ){23}\S+\n$/);
    ok(await icp(['identity', 'new', 'bob', '--storage', 'plaintext', '-q'], e), 'identity new bob');
    alice = ok(await icp(['identity', 'principal', '--identity', 'alice'], e), 'identity principal').trim();
    bob = ok(await icp(['identity', 'principal', '--identity', 'bob'], e), 'identity principal').trim();
    alicePem = join(e.home, 'identity', 'keys', 'alice.pem');
    assert.equal(identityFromPem(readFileSync(alicePem, 'utf8'), alicePem).getPrincipal().toText(), alice);
    const list = ok(await icp(['identity', 'list'], e), 'identity list');
    assert.match(list, new RegExp(`^\\* anonymous +${ANONYMOUS}$`, 'm'));
    assert.match(list, new RegExp(`^  alice +${alice}$`, 'm'));
    assert.equal(ok(await icp(['identity', 'default'], e), 'identity default').trim(), 'anonymous');
  });

  it('icp deploy creates and installs icboot, as anonymous, and records its id', async () => {
    const r = await icp(['deploy', '-y'], e, 300_000);
    ok(r, 'deploy');
    const created = /Created canister icboot with ID (\S+)/.exec(r.stdout + r.stderr);
    assert.ok(created, `deploy names the canister it created:\n${r.stdout}\n${r.stderr}`);
    id = created[1];
    assert.deepEqual(JSON.parse(readFileSync(join(project, icpRecord('local')), 'utf8')), { icboot: id });
    // Again: the recorded canister is reused, not a second one created.
    const again = await icp(['deploy', '-y'], e, 300_000);
    assert.doesNotMatch(ok(again, 'deploy again') + again.stderr, /Created canister/);
    assert.deepEqual(JSON.parse(readFileSync(join(project, icpRecord('local')), 'utf8')), { icboot: id });
  });

  it('canister status: running, anonymous its controller, the module `icboot deploy` installs', async () => {
    const s = await status();
    assert.match(s, /^ {2}Status: Running$/m);
    assert.match(s, new RegExp(`^ +controller: ${ANONYMOUS}$`, 'm'));
    assert.match(s, new RegExp(`^ {2}Module hash: 0x${sha256(built.module)}$`, 'm'));
  });

  it('settings update --add-controller; then alice is the default identity', async () => {
    ok(await icp(['canister', 'settings', 'update', id, '--add-controller', alice, '-f'], e), 'settings update');
    const s = await status();
    for (const p of [ANONYMOUS, alice]) assert.match(s, new RegExp(`^ +controller: ${p}$`, 'm'));
    ok(await icp(['identity', 'default', 'alice'], e), 'identity default alice');
    assert.equal(ok(await icp(['identity', 'default'], e), 'identity default').trim(), 'alice');
  });

  it('cycles: anonymous funds alice through the cycles ledger, and alice tops the canister up', async () => {
    assert.equal(await balance('alice'), 0n);
    assert.match(ok(await icp(['cycles', 'transfer', '5t', alice, '--identity', 'anonymous'], e), 'cycles transfer'),
      new RegExp(`^Transferred 5_000_000_000_000 cycles to ${alice}`, 'm'));
    assert.equal(await balance('alice'), 5_000_000_000_000n);
    const cyclesOf = async (): Promise<bigint> => BigInt(/^ {2}Cycles: ([\d_]+)$/m.exec(await status())![1].replaceAll('_', ''));
    const before = await cyclesOf();
    ok(await icp(['canister', 'top-up', '--amount', '1t', id, '--identity', 'alice'], e), 'canister top-up');
    // The ledger's fee is 100 M cycles per transaction; the canister pays nothing to receive, but burns storage as time passes.
    assert.equal(await balance('alice'), 5_000_000_000_000n - 1_000_000_000_000n - 100_000_000n);
    const after = await cyclesOf();
    assert.ok(after > before + 999_000_000_000n && after <= before + 1_000_000_000_000n, `${before} -> ${after}`);
  });

  it('icboot finds the id icp-cli recorded: deploy sees the same module, status and upload use it', async () => {
    const d = await icboot(['deploy', '--pem', alicePem]);
    assert.equal(ok(d, 'icboot deploy').trim(), id);
    assert.match(d.stderr, /module unchanged/);
    assert.match(ok(await icboot(['status', '--pem', alicePem]), 'icboot status'), new RegExp(`canister +${id}`));
    assert.match(ok(await icboot(['upload', tree, '--pem', alicePem]), 'icboot upload'), /release 1 published/);
  });

  it('canister call: a typed query, and an update whose effect a query shows', async () => {
    const q = await icp(['canister', 'call', id, 'status', '()', '--query'], e);
    assert.match(ok(q, 'call status'), /releases = 1 : nat32;/);
    assert.doesNotMatch(q.stderr, /no Candid interface/);
    assert.equal(ok(await icp(['canister', 'call', id, 'authorize', `(principal "${bob}")`], e), 'call authorize').trim(), '()');
    assert.match(ok(await icp(['canister', 'call', id, 'authorized', '()', '--query'], e), 'call authorized').trim(), new RegExp(`^\\(\\s*vec \\{\\s*principal "${bob}";\\s*\\},\\s*\\)$`));
    // Without --query icp sends an update call, which runs the query method replicated.
    assert.match(ok(await icp(['canister', 'call', id, 'status', '()'], e), 'call status as an update'), /releases = 1 : nat32;/);
  });

  it('canister metadata candid:service is the interface azle generated', async () => {
    assert.equal(ok(await icp(['canister', 'metadata', id, 'candid:service'], e), 'metadata').trim(), readFileSync(built.candid, 'utf8').trim());
  });

  it('canister install --mode upgrade with the uncompressed wasm (the chunk store path) keeps the state', async () => {
    ok(await icp(['canister', 'install', id, '--wasm', built.wasm, '--mode', 'upgrade', '-y'], e), 'install');
    assert.match(await status(), new RegExp(`^ {2}Module hash: 0x${sha256(readFileSync(built.wasm))}$`, 'm'));
    assert.match(ok(await icp(['canister', 'call', id, 'status', '()', '--query'], e), 'call status'), /releases = 1 : nat32;/);
  });

  it('canister stop and start', async () => {
    ok(await icp(['canister', 'stop', id], e), 'stop');
    assert.match(await status(), /^ {2}Status: Stopped$/m);
    const refused = await icp(['canister', 'call', id, 'status', '()', '--query'], e);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /IC0508/);
    ok(await icp(['canister', 'start', id], e), 'start');
    assert.match(await status(), /^ {2}Status: Running$/m);
  });

  it('canister logs hold the trap of an update a non-controller sent', async () => {
    const trapped = await icp(['canister', 'call', id, 'authorize', `(principal "${bob}")`, '--identity', 'bob'], e);
    assert.notEqual(trapped.code, 0);
    assert.match(trapped.stderr, /IC0503/);
    assert.match(ok(await icp(['canister', 'logs', id], e), 'logs'), new RegExp(`^\\[\\d+\\. \\S+\\]: \\[TRAP\\]: icboot: .*${bob}`, 'm'));
  });

  it('canister delete recovers the cycles to the deleting identity, then the canister is gone', async () => {
    const before = await balance('alice');
    const d = await icp(['canister', 'delete', id, '--identity', 'alice'], e);
    const recovered = /Recovered (\d+) cycles from canister (\S+) to (\S+)/.exec(ok(d, 'canister delete') + d.stderr);
    assert.ok(recovered, `${d.stdout}\n${d.stderr}`);
    assert.deepEqual([recovered[2], recovered[3]], [id, alice]);
    // The deposit pays the ledger's 100 M fee.
    assert.equal(await balance('alice'), before + BigInt(recovered[1]) - 100_000_000n);
    const gone = await icp(['canister', 'status', id], e);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, new RegExp(`Canister ${id} was not found`));
  });
});

// The gateway follows local addresses that appear and vanish while it runs
// (libvirt creates virbr0 only when its network starts). Everything runs in a
// network namespace of its own (the PXE lab's, without QEMU): the devnet, the
// gateway, curl, and a veth pair whose addresses the test adds and deletes.
// Needs root, iproute2 and curl.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO, tempDir } from '../lab/devnet.ts';
import { until } from '../lab/poll.ts';
import { stopChild } from '../lab/process.ts';
import { Netns } from '../lab/netns.ts';
import { PxeLab } from '../lab/pxe.ts';

const ICBOOT = join(REPO, 'cli', 'icboot.js');
/** Long enough for a loaded machine; the gateway looks at the interfaces every 2 s. */
const DEADLINE_MS = 60_000;

describe('gateway on addresses that come and go', () => {
  const work = tempDir('addresses');
  const tree = join(work, 'tree');
  const lab = new PxeLab(work, new Netns(false));
  const files = { 'pxelinux.0': randomBytes(200_000), 'boot/hello.txt': Buffer.from('hello from the canister\n') };

  before(async () => {
    for (const [path, bytes] of Object.entries(files)) {
      mkdirSync(join(tree, path, '..'), { recursive: true });
      writeFileSync(join(tree, path), bytes);
    }
    await lab.setup(tree);
    // A link with nothing on it: the test adds and deletes its addresses. (A veth pair, as the
    // dummy driver is not built into every kernel.)
    lab.ns.ip('link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1');
    lab.ns.ip('link', 'set', 'd0', 'up');
    lab.ns.ip('link', 'set', 'd1', 'up');
  });

  after(async () => {
    await lab.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  const log = (name: string): string => (existsSync(lab.log(name)) ? readFileSync(lab.log(name), 'utf8') : '');

  /** Starts `icboot gateway ARGS` in the namespace; its stdout and stderr go to NAME.log. */
  function gateway(name: string, args: string[]) {
    const child = lab.ns.spawn(process.execPath, [ICBOOT, 'gateway', ...args], lab.log(`${name}.log`), lab.env, lab.work);
    return { child, log: () => log(`${name}.log`), stop: () => stopChild(child, 'SIGTERM') };
  }

  /** What curl inside the namespace gets from `url`, or null if it fails. */
  function curl(url: string): Buffer | null {
    const out = join(work, 'fetched');
    rmSync(out, { force: true });
    try {
      lab.ns.run('curl', ['-sS', '--fail', '--max-time', '5', '-o', out, url]);
      return readFileSync(out);
    } catch {
      return null;
    }
  }

  /** Polls until curl gets `path` from `url` with the tree's bytes. */
  const serves = (url: string, path: keyof typeof files): Promise<boolean> =>
    until(() => curl(`${url}/${path}`)?.equals(files[path]), `${url}/${path} with the uploaded bytes`, DEADLINE_MS, 250);

  it('with 0.0.0.0, listens on an address added while it runs, and stops when the address is deleted', async () => {
    const gw = gateway('any', ['--tftp', '0.0.0.0:6969']);
    try {
      await until(() => /tftp listening on 127\.0\.0\.1:6969/.test(gw.log()), 'the gateway listening on loopback', DEADLINE_MS, 100);
      assert.doesNotMatch(gw.log(), /10\.77\.0\.1/);

      lab.ns.ip('addr', 'add', '10.77.0.1/24', 'dev', 'd0');
      await serves('tftp://10.77.0.1:6969', 'pxelinux.0');
      assert.match(gw.log(), /^tftp listening on 10\.77\.0\.1:6969$/m);

      lab.ns.ip('addr', 'del', '10.77.0.1/24', 'dev', 'd0');
      await until(() => /^tftp stopped listening on 10\.77\.0\.1:6969$/m.test(gw.log()), 'the gateway stopping on 10.77.0.1', DEADLINE_MS, 100);
      assert.ok(curl('tftp://127.0.0.1:6969/boot/hello.txt')?.equals(files['boot/hello.txt']), 'still serving on the other addresses');
    } finally {
      await gw.stop();
    }
  });

  it('with a specific address not up yet, waits for it, serves TFTP and HTTP once it is, and waits again when it goes', async () => {
    const gw = gateway('one', ['--tftp', '10.77.0.2:6969', '--http', '10.77.0.2:8080']);
    try {
      await until(() => /tftp: waiting for 10\.77\.0\.2 to appear/.test(gw.log()) && /http: waiting for 10\.77\.0\.2 to appear/.test(gw.log()),
        'the gateway saying it waits for 10.77.0.2', DEADLINE_MS, 100);
      assert.doesNotMatch(gw.log(), /listening on/);
      assert.equal(gw.child.exitCode, null, 'the gateway is still running');

      lab.ns.ip('addr', 'add', '10.77.0.2/24', 'dev', 'd0');
      await serves('tftp://10.77.0.2:6969', 'pxelinux.0');
      await serves('http://10.77.0.2:8080', 'boot/hello.txt');
      assert.match(gw.log(), /^tftp listening on 10\.77\.0\.2:6969$/m);
      assert.match(gw.log(), /^http listening on http:\/\/10\.77\.0\.2:8080$/m);

      lab.ns.ip('addr', 'del', '10.77.0.2/24', 'dev', 'd0');
      await until(() => /^tftp stopped listening on 10\.77\.0\.2:6969$/m.test(gw.log()) && /^http stopped listening on http:\/\/10\.77\.0\.2:8080$/m.test(gw.log()),
        'the gateway stopping on 10.77.0.2', DEADLINE_MS, 100);
      assert.equal(gw.log().match(/tftp: waiting for 10\.77\.0\.2/g)?.length, 2, 'waiting again');
    } finally {
      await gw.stop();
    }
  });
});

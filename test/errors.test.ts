// Each client-side failure a newcomer meets first ends in one line that says
// what to do, with no stack trace: through the command line (one line on
// stderr, exit 1) and through the client library (its error type).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Principal } from '@dfinity/principal';
import { connect, icbootCanister } from '../client/canister.ts';
import { AnonymousCallerError, CanisterNotFoundError, EndpointError, RefusedError, TransientError } from '../client/errors.ts';
import { deployWithCli, icboot, newPem, type CliEnv, type Deployed } from '../lab/cli.ts';
import { freePort, startDevnetProcess, tempDir, type RunningDevnet } from '../lab/devnet.ts';
import { Netns } from '../lab/netns.ts';

/** An id inside the devnet's range that no canister has, and one outside every range it serves. */
const UNUSED = Principal.fromText('bd3sg-teaaa-aaaaa-qaaba-cai');
const NO_SUBNET = Principal.fromText('ryjl3-tyaaa-aaaaa-aaaba-cai');

/** Runs `icboot ARGS`, expects it to fail, and returns its one line of stderr. */
async function oneLine(args: string[], env: CliEnv): Promise<string> {
  const r = await icboot(args, env);
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.match(lines[0], /^icboot: /);
  return lines[0];
}

describe('client errors, one line each', () => {
  let devnet: RunningDevnet;
  let d: Deployed;
  const ns = new Netns(false, '-err', 'icboot-errors');

  before(async () => {
    devnet = await startDevnetProcess();
    d = await deployWithCli(devnet.url);
    ns.create();
  });
  after(async () => {
    await ns.destroy();
    await devnet?.stop();
  });

  for (const [what, id] of [['in its range, never created', UNUSED], ['in no subnet it serves', NO_SUBNET]] as const) {
    it(`a canister id the network does not have (${what}): named, with deploy or --canister`, async () => {
      for (const command of [['ls'], ['releases'], ['status']]) {
        const line = await oneLine([...command, '--canister', id.toText()], d.env);
        assert.ok(line.includes(id.toText()) && line.includes(devnet.url) && line.includes('--canister'), line);
      }
      const c = await connect({ network: devnet.url, pem: newPem().path });
      await assert.rejects(icbootCanister(c, id).status(), CanisterNotFoundError);
    });
  }

  it('a closed port on loopback: cannot reach it, no stack', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const line = await oneLine(['ls', '--network', url, '--canister', d.canisterId.toText()], d.env);
    assert.ok(line.includes(url), line);
    await assert.rejects(connect({ network: url, pem: newPem().path }), TransientError);
  });

  it('an HTTP server that is no IC endpoint (404 for everything): named as such, never "run icboot deploy"', async () => {
    const server = createServer((_req, res) => res.writeHead(404).end('not found\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const line = await oneLine(['ls', '--network', url, '--canister', d.canisterId.toText()], d.env);
      assert.ok(line.includes(url) && line.includes('--network') && !line.includes('deploy'), line);
      await assert.rejects(connect({ network: url, pem: newPem().path }), EndpointError);
    } finally {
      server.close();
    }
  });

  it('a network with no route to the endpoint (inside a namespace with loopback only): cannot reach it, no stack', async () => {
    const url = 'http://10.77.0.1:4943';
    const line = await oneLine(['ls', '--network', url, '--canister', d.canisterId.toText()], { ...d.env, netns: ns.name });
    assert.ok(line.includes(url), line);
  });

  it('an anonymous writer is told to sign with an identity, not to be authorized', async () => {
    const tree = tempDir('tree');
    writeFileSync(join(tree, 'a.txt'), 'a\n');
    const line = await oneLine(['upload', tree, '--identity', 'anonymous'], d.env);
    assert.ok(line.includes('--pem') && !line.includes('authorize 2vxsx-fae'), line);
    const anonymous = await connect({ network: devnet.url, identity: 'anonymous' });
    await assert.rejects(icbootCanister(anonymous, d.canisterId).publish(1n), AnonymousCallerError);
    await assert.rejects(icbootCanister(anonymous, d.canisterId).authorize(Principal.anonymous()), AnonymousCallerError);
    // A signed stranger is refused by the canister's own rule, which does tell it to ask for authorization.
    const stranger = await connect({ network: devnet.url, pem: newPem().path });
    await assert.rejects(icbootCanister(stranger, d.canisterId).publish(1n), RefusedError);
  });
});

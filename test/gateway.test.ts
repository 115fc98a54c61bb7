// `icboot gateway` against the devnet with the Debian 12 netboot tree: what
// needs the canister behind it (verification, cache, releases, outages),
// driven by real TFTP clients (curl, atftp, tftp-hpa), a paced raw client and
// HTTP. TFTP protocol behaviour is tested in gateway/tftp/server.test.ts.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { debianNetboot } from '../cli/sample.ts';
import { walkTree } from '../uploader/walk.ts';
import { ERR, OP, request } from '../gateway/tftp/packet.ts';
import { cliEnv, icboot, type CliEnv } from '../lab/cli.ts';
import { freePort, startDevnetProcess, tempDir, type RunningDevnet } from '../lab/devnet.ts';
import { LockStep, RawClient, run, startGateway, type RunningGateway } from '../lab/gateway.ts';
import { until } from '../lab/poll.ts';

const MiB = 1024 * 1024;

describe('icboot gateway', () => {
  let devnet: RunningDevnet;
  let devnetPort: number;
  let env: CliEnv;
  let gw: RunningGateway;
  const tree = tempDir('gwtree');
  const out = tempDir('gwout');
  const cacheDir = tempDir('gwcache');
  // Larger than the gateway's read-ahead (8 MiB), so a paused transfer still needs the canister.
  const big = randomBytes(16 * MiB + 4321);
  const secret = randomBytes(2 * MiB + 17);
  // No prefetch: these tests need chunks the gateway has not fetched yet.
  const gatewayArgs = (): string[] => ['--poll', '1', '--cache-dir', cacheDir, '--no-prefetch'];
  const tftpUrl = (path: string): string => `tftp://127.0.0.1:${gw.tftpPort}/${path}`;
  const local = (path: string): Buffer => readFileSync(join(tree, path));
  const fetched = (name: string): Buffer => readFileSync(join(out, name));

  before(async () => {
    for (const p of ['atftp', 'tftp']) assert.equal((await run('which', [p])).code, 0, `${p} is missing: apt-get install atftp tftp-hpa`);
    cpSync(debianNetboot(), tree, { recursive: true, dereference: true });
    writeFileSync(join(tree, 'big.img'), big);
    writeFileSync(join(tree, 'secret.bin'), secret);
    devnetPort = await freePort();
    devnet = await startDevnetProcess(undefined, devnetPort);
    env = cliEnv(devnet.url);
    assert.equal((await icboot(['deploy'], env)).code, 0);
    const up = await icboot(['upload', tree, '--label', 'one'], env);
    assert.equal(up.code, 0, up.stderr);
    gw = await startGateway(env, gatewayArgs());
  });

  after(async () => {
    await gw?.stop();
    await devnet?.stop();
    for (const d of [tree, out, cacheDir, devnet?.stateDir, env?.cwd]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('serves every file byte-identical to atftp, and one each to curl and tftp-hpa', async () => {
    const all = walkTree(tree).filter((f) => f.path !== 'big.img' && f.path !== 'secret.bin');
    const empty = all.filter((f) => f.size === 0).map((f) => f.path);
    assert.ok(empty.length > 0, 'the tree has empty files');
    const atftp = (p: string, to: string): [string, string[]] => ['atftp', ['--option', 'blksize 1468', '--option', 'windowsize 16', '-g', '-r', p, '-l', to, '127.0.0.1', String(gw.tftpPort)]];
    const fetches: [string, string, (path: string, to: string) => [string, string[]]][] = [
      ...all.map((f): [string, string, typeof atftp] => ['atftp 1468 w16', f.path, atftp]),
      ['curl 512', 'pxelinux.0', (p, to) => ['curl', ['-sS', '-o', to, tftpUrl(p)]]],
      ['curl 1468', 'debian-installer/amd64/linux', (p, to) => ['curl', ['-sS', '--tftp-blksize', '1468', '-o', to, tftpUrl(p)]]],
      // curl 7.88 fails on 0-byte files with any server (tftpd-hpa too: "getpeername() failed"); tftp-hpa fetches them.
      ...['ldlinux.c32', empty[0]].map((path): [string, string, typeof atftp] => ['tftp-hpa', path, (p, to) => ['tftp', ['-m', 'binary', '127.0.0.1', String(gw.tftpPort), '-c', 'get', p, to]]]),
    ];
    for (const [name, path, command] of fetches) {
      const to = join(out, 'f');
      rmSync(to, { force: true });
      const [cmd, args] = command(path, to);
      const r = await run(cmd, args);
      assert.equal(r.code, 0, `${name} ${path}: ${r.stderr}`);
      assert.ok(fetched('f').equals(local(path)), `${name} ${path} differs`);
    }
  });

  it('answers missing files and traversal, and stays up', async () => {
    const missing = await run('curl', ['-sS', '-o', join(out, 'x'), tftpUrl('pxelinux.cfg/01-52-54-00-12-34-56')]);
    assert.equal(missing.code, 68, 'curl: TFTP file not found');
    const c = await new RawClient().open();
    for (const name of ['../../etc/passwd', 'debian-installer/../../../etc/passwd']) {
      const n = c.received.length;
      c.send(request(OP.RRQ, name, 'octet'), gw.tftpPort);
      await c.waitFor(n + 1);
      const p = c.received[n]?.packet;
      assert.ok(p && p.op === OP.ERROR, `an ERROR answers ${name}`);
      assert.equal(p.code, ERR.ACCESS);
    }
    c.close();
    const ok = await run('curl', ['-sS', '-o', join(out, 'after'), tftpUrl('pxelinux.0')]);
    assert.equal(ok.code, 0, 'the server still serves');
  });

  it('loads a new release into its cache ahead of requests', async () => {
    const warmCache = tempDir('gwwarm');
    const warm = await startGateway(env, ['--cache-dir', warmCache, '--cache-mem', '512M']);
    try {
      const line = await until(() => warm.logs.find((l) => /cache: release \d+ warm/.test(l)), 'cache warm', 60_000, 200);
      const [, got, total] = /warm, (\d+) of (\d+) chunks/.exec(line)!;
      assert.equal(got, total, 'every chunk of the release is cached');
    } finally {
      await warm.stop();
      rmSync(warmCache, { recursive: true, force: true });
    }
  });

  it('serves HTTP with ranges, HEAD and ETag', async () => {
    const path = 'debian-installer/amd64/initrd.gz';
    const whole = local(path);
    const get = await fetch(`${gw.httpUrl}/${path}`);
    assert.equal(get.status, 200);
    assert.ok(Buffer.from(await get.arrayBuffer()).equals(whole));
    const etag = get.headers.get('etag');
    for (const [range, start, end] of [['bytes=0-0', 0, 0], ['bytes=100-200', 100, 200], [`bytes=-500`, whole.length - 500, whole.length - 1],
      [`bytes=${whole.length - 10}-`, whole.length - 10, whole.length - 1], [`bytes=1048570-1048590`, 1048570, 1048590]] as const) {
      const r = await fetch(`${gw.httpUrl}/${path}`, { headers: { range } });
      assert.equal(r.status, 206, range);
      assert.equal(r.headers.get('content-range'), `bytes ${start}-${end}/${whole.length}`);
      assert.ok(Buffer.from(await r.arrayBuffer()).equals(whole.subarray(start, end + 1)), range);
    }
    assert.equal((await fetch(`${gw.httpUrl}/${path}`, { headers: { range: `bytes=${whole.length}-` } })).status, 416);
    const head = await fetch(`${gw.httpUrl}/${path}`, { method: 'HEAD' });
    assert.equal(head.headers.get('content-length'), String(whole.length));
    // As sent (fetch folds case): GRUB 2.06 finds the length only in a header spelt "Content-Length".
    const raw = await run('curl', ['-sS', '-I', `${gw.httpUrl}/${path}`]);
    assert.match(raw.stdout, new RegExp(`\r\nContent-Length: ${whole.length}\r\n`));
    assert.equal((await fetch(`${gw.httpUrl}/${path}`, { headers: { 'if-none-match': etag! } })).status, 304);
    assert.equal((await fetch(`${gw.httpUrl}/nope`)).status, 404);
    assert.equal((await fetch(`${gw.httpUrl}/${path}`, { method: 'POST' })).status, 405);
  });

  it('never serves a corrupted chunk', async () => {
    await devnet.stop();
    const { createHash } = await import('node:crypto');
    const chunk = createHash('sha256').update(secret.subarray(0, MiB)).digest('hex');
    devnet = await startDevnetProcess(devnet.stateDir, devnetPort, ['--corrupt-chunk', chunk]);
    const r = await run('curl', ['-sS', '--tftp-blksize', '1468', '-o', join(out, 'secret'), tftpUrl('secret.bin')]);
    assert.notEqual(r.code, 0, 'the transfer fails');
    assert.ok(!existsSync(join(out, 'secret')) || readFileSync(join(out, 'secret')).length < MiB, 'nothing past the bad chunk was sent');
    const h = await run('curl', ['-sS', '-o', join(out, 'secret-http'), `${gw.httpUrl}/secret.bin`]);
    assert.notEqual(h.code, 0, 'HTTP closes early');
    assert.ok(gw.logs.some((l) => /integrity: chunk .* does not match its hash/.test(l)), 'the log says what failed');
    await devnet.stop();
    devnet = await startDevnetProcess(devnet.stateDir, devnetPort);
  });

  it('ends a transfer with an error when the canister goes away, and serves cached files without it', async () => {
    // Fetched while the canister is up, so it is in the cache.
    const cached = 'debian-installer/amd64/initrd.gz';
    assert.equal((await run('curl', ['-sS', '-o', join(out, 'c0'), tftpUrl(cached)])).code, 0);
    // A slow client: it pauses after 1 MiB while the canister goes away, then reads on.
    const transfer = await LockStep.open(gw.tftpPort, 'big.img', { blksize: '1468', timeout: '10' });
    try {
      await transfer.read(MiB);
      assert.equal(transfer.error, null, 'the transfer runs while the canister is up');
      await devnet.stop();
      await transfer.read();
      assert.ok(transfer.error, 'an ERROR ends the transfer');
      assert.ok(transfer.bytes < big.length, 'never a complete-looking file');
    } finally {
      transfer.close();
    }
    // Files fetched before are served from the cache; also after a gateway restart.
    assert.equal((await run('curl', ['-sS', '-o', join(out, 'c1'), tftpUrl(cached)])).code, 0);
    assert.ok(fetched('c1').equals(local(cached)));
    await gw.stop();
    gw = await startGateway(env, gatewayArgs());
    assert.equal((await run('curl', ['-sS', '-o', join(out, 'c2'), tftpUrl(cached)])).code, 0);
    assert.ok(fetched('c2').equals(local(cached)));
    devnet = await startDevnetProcess(devnet.stateDir, devnetPort);
  });

  it('serves a new release within the poll interval, finishing transfers begun on the old one, and a pinned release', async () => {
    // A slow client holds a transfer open on release 1 while release 2 is published.
    const old = await LockStep.open(gw.tftpPort, 'secret.bin', { blksize: '1468', timeout: '10' });
    try {
      await old.read(1);
      const changed = tempDir('gwtree2');
      mkdirSync(join(changed, 'pxelinux.cfg'));
      writeFileSync(join(changed, 'pxelinux.cfg', 'default'), 'default release-two\n');
      const up = await icboot(['upload', changed, '--label', 'two'], env);
      assert.equal(up.code, 0, up.stderr);
      rmSync(changed, { recursive: true, force: true });
      await until(async () => {
        const r = await run('curl', ['-sS', '-o', join(out, 'cfg'), tftpUrl('pxelinux.cfg/default')]);
        return r.code === 0 && fetched('cfg').toString() === 'default release-two\n';
      }, 'new release served (poll 1 s)', 5000, 200);
      await old.read();
      assert.equal(old.error, null, 'the transfer begun on release 1 completes');
      assert.ok(Buffer.concat(old.blocks).equals(secret), 'byte-identical');
    } finally {
      old.close();
    }
    // Release 2 does not hold secret.bin; pinned to release 1, the gateway serves it.
    await gw.stop();
    gw = await startGateway(env, [...gatewayArgs(), '--release', '1']);
    const r = await run('curl', ['-sS', '--tftp-blksize', '1468', '-o', join(out, 'pinned'), tftpUrl('secret.bin')]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fetched('pinned').equals(secret), 'byte-identical from the pinned release');
  });
});

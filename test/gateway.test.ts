// `icboot gateway` against the devnet with the Debian 12 netboot tree, driven
// by real TFTP clients (curl, atftp, tftp-hpa), raw packets and HTTP.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { walkTree } from '../uploader/walk.ts';
import { ERR, OP, ack, request } from '../gateway/tftp/packet.ts';
import { cliEnv, icboot, type CliEnv } from '../lab/cli.ts';
import { freePort, startDevnetProcess, tempDir, type RunningDevnet } from '../lab/devnet.ts';
import { RawClient, run, startGateway, type RunningGateway } from '../lab/gateway.ts';

const DEBIAN = '/usr/lib/debian-installer/images/12/amd64/text';
const MiB = 1024 * 1024;

describe('icboot gateway', () => {
  let devnet: RunningDevnet;
  let devnetPort: number;
  let env: CliEnv;
  let gw: RunningGateway;
  const tree = tempDir('gwtree');
  const out = tempDir('gwout');
  const cacheDir = tempDir('gwcache');
  const big = randomBytes(100 * MiB + 4321);
  const secret = randomBytes(2 * MiB + 17);
  // No prefetch: these tests need chunks the gateway has not fetched yet.
  const gatewayArgs = (): string[] => ['--poll', '1', '--cache-dir', cacheDir, '--no-prefetch'];
  const tftpUrl = (path: string): string => `tftp://127.0.0.1:${gw.tftpPort}/${path}`;
  const local = (path: string): Buffer => readFileSync(join(tree, path));
  const fetched = (name: string): Buffer => readFileSync(join(out, name));

  before(async () => {
    for (const p of ['atftp', 'tftp']) assert.equal((await run('which', [p])).code, 0, `${p} is missing: apt-get install atftp tftp-hpa`);
    assert.ok(existsSync(DEBIAN), `${DEBIAN} is missing: apt-get install debian-installer-12-netboot-amd64`);
    cpSync(DEBIAN, tree, { recursive: true, dereference: true });
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

  it('serves every file byte-identical to curl, atftp and tftp-hpa', async () => {
    const all = walkTree(tree).filter((f) => f.path !== 'big.img' && f.path !== 'secret.bin');
    const files = all.map((f) => f.path);
    // curl 7.88 fails on 0-byte files with any server (tftpd-hpa too: "getpeername() failed");
    // atftp and tftp-hpa fetch them.
    const empty = new Set(all.filter((f) => f.size === 0).map((f) => f.path));
    assert.ok(empty.size > 0, 'the tree has empty files');
    const clients: [string, (path: string, to: string) => [string, string[]]][] = [
      ['curl 512', (p, to) => ['curl', ['-sS', '-o', to, tftpUrl(p)]]],
      ['curl 1468', (p, to) => ['curl', ['-sS', '--tftp-blksize', '1468', '-o', to, tftpUrl(p)]]],
      ['atftp 1468 w16', (p, to) => ['atftp', ['--option', 'blksize 1468', '--option', 'windowsize 16', '-g', '-r', p, '-l', to, '127.0.0.1', String(gw.tftpPort)]]],
      ['tftp-hpa', (p, to) => ['tftp', ['-m', 'binary', '127.0.0.1', String(gw.tftpPort), '-c', 'get', p, to]]],
    ];
    for (const [name, command] of clients) {
      for (const path of files) {
        if (name.startsWith('curl') && empty.has(path)) continue;
        const to = join(out, 'f');
        rmSync(to, { force: true });
        const [cmd, args] = command(path, to);
        const r = await run(cmd, args);
        assert.equal(r.code, 0, `${name} ${path}: ${r.stderr}`);
        assert.ok(fetched('f').equals(local(path)), `${name} ${path} differs`);
      }
    }
  });

  it('answers missing files, writes, traversal, malformed packets and bad options, and stays up', async () => {
    const missing = await run('curl', ['-sS', '-o', join(out, 'x'), tftpUrl('pxelinux.cfg/01-52-54-00-12-34-56')]);
    assert.equal(missing.code, 68, 'curl: TFTP file not found');
    const c = await new RawClient().open();
    const expectError = async (packet: Uint8Array, code: number): Promise<void> => {
      const n = c.received.length;
      c.send(packet, gw.tftpPort);
      await c.waitFor(n + 1);
      const p = c.received[n]?.packet;
      assert.ok(p && p.op === OP.ERROR, `an ERROR answers ${Buffer.from(packet).toString('hex').slice(0, 40)}`);
      assert.equal(p.code, code);
    };
    await expectError(request(OP.WRQ, 'pxelinux.0', 'octet'), ERR.ACCESS);
    await expectError(request(OP.RRQ, '../../etc/passwd', 'octet'), ERR.ACCESS);
    await expectError(request(OP.RRQ, 'debian-installer/../../../etc/passwd', 'octet'), ERR.ACCESS);
    await expectError(request(OP.RRQ, 'nope', 'mail'), ERR.ILLEGAL);
    await expectError(Buffer.from([0, 1, 0x61, 0x62]), ERR.ILLEGAL);
    await expectError(Buffer.from([0, 9, 1, 2, 3]), ERR.ILLEGAL);
    await expectError(ack(1), ERR.ILLEGAL);
    for (const junk of [Buffer.alloc(0), Buffer.from([7])]) c.send(junk, gw.tftpPort);
    c.close();
    // Unparseable or out-of-range options are ignored: the transfer runs with defaults.
    const r = await run('atftp', ['--option', 'blksize 5', '--option', 'windowsize 0', '--option', 'timeout 999', '-g', '-r', 'pxelinux.cfg/default', '-l', join(out, 'opt'), '127.0.0.1', String(gw.tftpPort)]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fetched('opt').equals(local('pxelinux.cfg/default')));
    const ok = await run('curl', ['-sS', '-o', join(out, 'after'), tftpUrl('pxelinux.0')]);
    assert.equal(ok.code, 0, 'the server still serves');
  });

  it('sends no extra DATA for duplicate ACKs, and ERROR 5 to a stranger', async () => {
    const c = await new RawClient().open();
    c.send(request(OP.RRQ, 'ldlinux.c32', 'octet'), gw.tftpPort);
    await c.waitFor(1);
    const first = c.received[0];
    assert.equal(first.packet?.op, OP.DATA);
    const tid = first.port;
    for (let i = 0; i < 5; i++) c.send(ack(1), tid);
    await new Promise((r) => setTimeout(r, 300));
    const data = c.received.filter((r) => r.packet?.op === OP.DATA);
    assert.equal(data.length, 2, 'one DATA 2 for five ACK 1');
    const stranger = await new RawClient().open();
    stranger.send(ack(2), tid);
    await stranger.waitFor(1);
    assert.equal(stranger.received[0].packet?.op, OP.ERROR);
    assert.equal((stranger.received[0].packet as { code: number }).code, ERR.UNKNOWN_TID);
    stranger.close();
    // The transfer goes on undisturbed.
    c.send(ack(2), tid);
    await c.waitFor(4);
    assert.equal((c.received[3].packet as { block: number }).block, 3);
    c.close();
  });

  it('frees the transfer of a client that vanished', async () => {
    const c = await new RawClient().open();
    c.send(request(OP.RRQ, 'debian-installer/amd64/linux', 'octet', { timeout: '1' }), gw.tftpPort);
    await c.waitFor(1);
    c.close();
    const deadline = Date.now() + 30_000;
    // Freed by its retransmit timer running out, or sooner by the ICMP error the closed port returns.
    while (!gw.logs.some((l) => /debian-installer\/amd64\/linux .* (timeout after 5 retries|client went away)/.test(l))) {
      assert.ok(Date.now() < deadline, 'transfer not freed within 30 s');
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  it('loads a new release into its cache ahead of requests', async () => {
    const warmCache = tempDir('gwwarm');
    const warm = await startGateway(env, ['--cache-dir', warmCache, '--cache-mem', '512M']);
    try {
      const deadline = Date.now() + 60_000;
      let line: string | undefined;
      while (!(line = warm.logs.find((l) => /cache: release \d+ warm/.test(l)))) {
        assert.ok(Date.now() < deadline, 'not warm within 60 s');
        await new Promise((r) => setTimeout(r, 200));
      }
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
    const to = join(out, 'big-partial');
    const transfer = run('curl', ['-sS', '--tftp-blksize', '1468', '-o', to, tftpUrl('big.img')]);
    const deadline = Date.now() + 30_000;
    while (!existsSync(to) || readFileSync(to).length < 3 * MiB) {
      assert.ok(Date.now() < deadline, 'transfer did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
    await devnet.stop();
    const r = await transfer;
    assert.notEqual(r.code, 0, 'curl reports an error');
    assert.ok(readFileSync(to).length < big.length, 'never a complete-looking file');
    // Files fetched before are served from the cache; also after a gateway restart.
    const cached = 'debian-installer/amd64/initrd.gz';
    assert.equal((await run('curl', ['-sS', '-o', join(out, 'c1'), tftpUrl(cached)])).code, 0);
    assert.ok(fetched('c1').equals(local(cached)));
    await gw.stop();
    gw = await startGateway(env, gatewayArgs());
    assert.equal((await run('curl', ['-sS', '-o', join(out, 'c2'), tftpUrl(cached)])).code, 0);
    assert.ok(fetched('c2').equals(local(cached)));
    devnet = await startDevnetProcess(devnet.stateDir, devnetPort);
  });

  it('serves files past block 65535 and a new release within the poll interval, finishing old transfers', async () => {
    const slow = run('curl', ['-sS', '-o', join(out, 'big512'), tftpUrl('big.img')], 300_000);
    const changed = tempDir('gwtree2');
    mkdirSync(join(changed, 'pxelinux.cfg'));
    writeFileSync(join(changed, 'pxelinux.cfg', 'default'), 'default release-two\n');
    const up = await icboot(['upload', changed, '--label', 'two'], env);
    assert.equal(up.code, 0, up.stderr);
    const deadline = Date.now() + 5000;
    for (;;) {
      const r = await run('curl', ['-sS', '-o', join(out, 'cfg'), tftpUrl('pxelinux.cfg/default')]);
      if (r.code === 0 && fetched('cfg').toString() === 'default release-two\n') break;
      assert.ok(Date.now() < deadline, 'new release not served within 5 s (poll 1 s)');
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal((await slow).code, 0, 'the transfer begun on release 1 completes');
    assert.ok(fetched('big512').equals(big), 'byte-identical at blksize 512 (block numbers wrap)');
    rmSync(changed, { recursive: true, force: true });
    // Release 2 does not hold big.img; the rollover at 1468 is checked on release 1, pinned.
    await gw.stop();
    gw = await startGateway(env, [...gatewayArgs(), '--release', '1']);
    const r = await run('curl', ['-sS', '--tftp-blksize', '1468', '-o', join(out, 'big1468'), tftpUrl('big.img')], 300_000);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fetched('big1468').equals(big), 'byte-identical at blksize 1468 (past 96 MB)');
  });
});

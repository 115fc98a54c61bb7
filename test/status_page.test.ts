// The gateway's status page in a real browser (Debian's chromium driven by
// playwright-core): a TFTP transfer held open by a slow client appears with a
// progress bar, then finishes and appears under recent boots; names a client
// chose are shown as text, never run as markup. With ICBOOT_SCREENSHOT=FILE it
// saves the page mid-transfer there (docs/status-page.png was made so).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM } from './prerequisites.ts';
import { deployWithCli, icboot, type CliEnv } from '../lab/cli.ts';
import { freePort, startDevnetProcess, tempDir, type RunningDevnet } from '../lab/devnet.ts';
import { LockStep, run, startGateway, type RunningGateway } from '../lab/gateway.ts';
import { until } from '../lab/poll.ts';

const MiB = 1024 * 1024;

describe('gateway status page', () => {
  let devnet: RunningDevnet;
  let env: CliEnv;
  let gw: RunningGateway;
  let browser: Browser;
  let page: Page;
  const tree = tempDir('stree');
  const big = randomBytes(12 * MiB + 7);
  /** Every URL the page asked for: nothing beyond the gateway. */
  const requested: string[] = [];

  before(async () => {
    writeFileSync(join(tree, 'big.img'), big);
    writeFileSync(join(tree, 'pxelinux.0'), randomBytes(40_000));
    devnet = await startDevnetProcess(undefined, await freePort());
    ({ env } = await deployWithCli(devnet.url));
    const up = await icboot(['upload', tree, '--label', 'status <b>page</b>'], env);
    assert.equal(up.code, 0, up.stderr);
    gw = await startGateway(env, ['--no-prefetch']);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    page.on('request', (r) => requested.push(r.url()));
  });

  after(async () => {
    await browser?.close();
    await gw?.stop();
    await devnet?.stop();
    for (const d of [tree, devnet?.stateDir, env?.cwd]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('shows the release, a transfer in progress with a progress bar, then the boot it was part of', async () => {
    await page.goto(`${gw.httpUrl}/`);
    await until(async () => (await page.textContent('#conn')) === 'live', 'the page receives events', 30_000, 100);
    const release = (await page.textContent('#release')) ?? '';
    assert.ok(release.includes('status <b>page</b>'), release);
    assert.equal(await page.locator('#release b').count(), 0, 'a label is text, not markup');

    // The iPXE query names the machine's MAC address; the boot is shown with it.
    await fetch(`${gw.httpUrl}/ipxe?mac=52:54:00:12:34:56`);
    const fast = await run('curl', ['-sS', '-o', '/dev/null', `tftp://127.0.0.1:${gw.tftpPort}/pxelinux.0`]);
    assert.equal(fast.code, 0, fast.stderr);
    // A name a client chose, made to look like markup.
    const hostile = await LockStep.open(gw.tftpPort, '<img src=x onerror="window.pwned=1">', { blksize: '1468' });
    await hostile.read();
    assert.equal(hostile.error?.code, 1);
    hostile.close();

    const slow = await LockStep.open(gw.tftpPort, 'big.img', { blksize: '1468' });
    try {
      // Paused with 2 MiB received, all but its last block acknowledged.
      await slow.read(2 * MiB);
      const row = page.locator('#live tr[data-transfer]', { hasText: 'big.img' });
      await until(async () => (await row.count()) === 1 && Number(await row.locator('progress').getAttribute('value')) > MiB,
        'the paused transfer shown with its progress', 30_000, 100);
      assert.equal(Number(await row.locator('progress').getAttribute('max')), big.length);
      if (process.env.ICBOOT_SCREENSHOT) await page.screenshot({ path: process.env.ICBOOT_SCREENSHOT, fullPage: true });
      await slow.read();
      assert.equal(slow.bytes, big.length);
      // Open until the gateway has its last ACK: closed at once, the ACK could be lost with the socket.
      await until(async () => (await page.locator('#live tr[data-transfer]').count()) === 0, 'no transfer in progress', 30_000, 100);
    } finally {
      slow.close();
    }
    const boot = page.locator('.boot[data-client="127.0.0.1"]');
    await until(async () => ((await boot.textContent()) ?? '').includes('big.img'), 'big.img under recent boots', 30_000, 100);
    for (const file of ['big.img', 'pxelinux.0']) {
      assert.equal(await boot.locator('tr', { hasText: file }).locator('td', { hasText: /^ok$/ }).count(), 1, `${file} ended ok`);
    }
    const text = (await boot.textContent()) ?? '';
    assert.ok(text.includes('52:54:00:12:34:56'), text);
    assert.ok(text.includes('pxelinux.0'), text);
    assert.ok(text.includes('<img src=x onerror="window.pwned=1">'), 'the hostile name shown as text');
    assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
    assert.equal(await page.locator('.boot img').count(), 0);
    assert.deepEqual(requested.filter((u) => !u.startsWith(gw.httpUrl)), []);
  });
});

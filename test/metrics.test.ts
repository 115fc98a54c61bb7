// `icboot gateway` /metrics against the devnet: real TFTP (curl) and HTTP
// transfers, then a scrape with a real HTTP client, on the HTTP listener and
// on --metrics, checked counter by counter.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deployWithCli, icboot, type CliEnv } from '../lab/cli.ts';
import { freePort, startDevnetProcess, tempDir, type RunningDevnet } from '../lab/devnet.ts';
import { run, startGateway, type RunningGateway } from '../lab/gateway.ts';
import { until } from '../lab/poll.ts';

/** Prometheus text → sample name with labels (as written) → value. */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    samples.set(m[1], Number(m[2]));
  }
  return samples;
}

describe('gateway metrics', () => {
  let devnet: RunningDevnet;
  let env: CliEnv;
  let gw: RunningGateway;
  let metricsPort: number;
  const tree = tempDir('mtree');
  const out = tempDir('mout');
  // Several chunks (1 MiB each), so chunk queries and cache hits are counted in more than ones.
  const big = randomBytes(3 * 1024 * 1024 + 99);
  const small = randomBytes(5000);

  const scrape = async (url: string): Promise<Map<string, number>> => {
    const r = await fetch(url);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return parse(await r.text());
  };
  const get = (m: Map<string, number>, name: string): number => m.get(name) ?? 0;

  before(async () => {
    writeFileSync(join(tree, 'big.img'), big);
    writeFileSync(join(tree, 'small.bin'), small);
    // A release file named like the gateway's own endpoint: still reachable, as //metrics.
    writeFileSync(join(tree, 'metrics'), 'a file, not the metrics\n');
    devnet = await startDevnetProcess(undefined, await freePort());
    ({ env } = await deployWithCli(devnet.url));
    const up = await icboot(['upload', tree, '--label', 'metrics <test>', '--chunk-size', '1M'], env);
    assert.equal(up.code, 0, up.stderr);
    metricsPort = await freePort();
    gw = await startGateway(env, ['--no-prefetch', '--metrics', `127.0.0.1:${metricsPort}`]);
  });

  after(async () => {
    await gw?.stop();
    await devnet?.stop();
    for (const d of [tree, out, devnet?.stateDir, env?.cwd]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('counts TFTP and HTTP transfers, bytes, the cache and canister queries', async () => {
    const before = await scrape(`${gw.httpUrl}/metrics`);
    assert.equal(get(before, 'icboot_gateway_transfers_total{protocol="tftp",result="ok"}'), 0);
    assert.equal(get(before, 'icboot_gateway_release_info{release="1",label="metrics <test>",origin="canister"}'), 1);
    const age = get(before, 'icboot_gateway_release_certificate_age_seconds');
    assert.ok(age >= 0 && age < 600, `certificate age ${age}`);

    const to = join(out, 'big.img');
    const r = await run('curl', ['-sS', '--tftp-blksize', '1468', '-o', to, `tftp://127.0.0.1:${gw.tftpPort}/big.img`]);
    assert.equal(r.code, 0, r.stderr);
    const missing = await run('curl', ['-sS', '-o', join(out, 'x'), `tftp://127.0.0.1:${gw.tftpPort}/no-such-file`]);
    assert.notEqual(missing.code, 0);
    const body = Buffer.from(await (await fetch(`${gw.httpUrl}/big.img`)).arrayBuffer());
    assert.ok(body.equals(big));
    assert.equal((await fetch(`${gw.httpUrl}/small.bin`)).status, 200);
    assert.equal((await (await fetch(`${gw.httpUrl}//metrics`)).text()), 'a file, not the metrics\n');

    // curl exits once it has sent its last ACK; the gateway ends the transfer when that arrives.
    const m = await until(async () => {
      const now = await scrape(`${gw.httpUrl}/metrics`);
      return get(now, 'icboot_gateway_transfers_in_progress{protocol="tftp"}') === 0 ? now : null;
    }, 'the TFTP transfer ended', 30_000, 100);
    assert.equal(get(m, 'icboot_gateway_transfers_total{protocol="tftp",result="ok"}'), 1);
    assert.equal(get(m, 'icboot_gateway_transfers_total{protocol="tftp",result="not_found"}'), 1);
    assert.equal(get(m, 'icboot_gateway_transfers_total{protocol="http",result="ok"}'), 3);
    assert.equal(get(m, 'icboot_gateway_served_bytes_total{protocol="tftp"}'), big.length);
    assert.equal(get(m, 'icboot_gateway_served_bytes_total{protocol="http"}'), big.length + small.length + 24);
    assert.equal(get(m, 'icboot_gateway_transfer_duration_seconds_count{protocol="tftp"}'), 2);
    // big.img is 4 chunks: fetched once (TFTP), then all from memory (HTTP); small.bin and metrics one more each.
    assert.equal(get(m, 'icboot_gateway_canister_queries_total{kind="chunk",result="ok"}'), 6);
    assert.equal(get(m, 'icboot_gateway_canister_query_duration_seconds_count{kind="chunk"}'), 6);
    assert.ok(get(m, 'icboot_gateway_canister_queries_total{kind="index",result="ok"}') >= 1);
    assert.equal(get(m, 'icboot_gateway_cache_misses_total'), 6);
    assert.ok(get(m, 'icboot_gateway_cache_hits_total{tier="memory"}') >= 4);
    assert.equal(get(m, 'icboot_gateway_cache_bytes{tier="memory"}'), big.length + small.length + 24);
    assert.equal(get(m, 'icboot_gateway_integrity_failures_total'), 0);

    // The same registry on --metrics.
    const elsewhere = await scrape(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(get(elsewhere, 'icboot_gateway_transfers_total{protocol="tftp",result="ok"}'), 1);
    assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/big.img`)).status, 404);
  });
});

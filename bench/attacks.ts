// `npm run bench` (attack part): how long a legitimate client waits for a
// cached file while an attacker on the LAN holds TFTP slots, for the three
// exhaustion patterns of issue 9, and how many DATA packets a client that
// negotiates windowsize 64 and ACKs every block receives per block.
// Each attack runs against a fresh `icboot gateway` with its default caps.
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { OP, ack, request } from '../gateway/tftp/packet.ts';
import { attack, loopbackAddresses, type AttackOptions } from '../lab/attackers.ts';
import { cliEnv, icboot } from '../lab/cli.ts';
import { startDevnetProcess, tempDir } from '../lab/devnet.ts';
import { run, startGateway, type RunningGateway } from '../lab/gateway.ts';

/** Give up waiting for the legitimate client after this long. */
const LIMIT_S = 60;
const TARGET_S = 15;

const tree = tempDir('attack-tree');
writeFileSync(join(tree, 'version.info'), 'icboot attack benchmark\n');
const big = randomBytes(8 * 1024 * 1024);
writeFileSync(join(tree, 'big.bin'), big);
const out = tempDir('attack-out');

/** Seconds from now until curl fetches version.info, retrying every 250 ms; null past LIMIT_S. */
async function legitimateWait(gw: RunningGateway): Promise<number | null> {
  const started = performance.now();
  while (performance.now() - started < LIMIT_S * 1000) {
    const r = await run('curl', ['-sS', '--max-time', '3', '-o', join(out, 'v'), `tftp://127.0.0.1:${gw.tftpPort}/version.info`]);
    if (r.code === 0) return (performance.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 250));
  }
  return null;
}

/** DATA packets per block for a client that asks windowsize 64 and ACKs every block it receives. */
async function amplification(gw: RunningGateway): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  let data = 0;
  const blocks = Math.floor(big.length / 1468) + 1;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('windowed transfer did not finish in 120 s')), 120_000);
    s.on('message', (msg, rinfo) => {
      const op = msg.readUInt16BE(0);
      if (op === OP.OACK) s.send(ack(0), rinfo.port, '127.0.0.1');
      if (op === OP.ERROR) reject(new Error(`ERROR ${msg.subarray(4).toString()}`));
      if (op !== OP.DATA) return;
      data++;
      s.send(ack(msg.readUInt16BE(2)), rinfo.port, '127.0.0.1');
      if (msg.length < 4 + 1468) {
        clearTimeout(timer);
        resolve();
      }
    });
    s.send(request(OP.RRQ, 'big.bin', 'octet', { blksize: '1468', windowsize: '64' }), gw.tftpPort, '127.0.0.1');
  });
  s.close();
  return data / blocks;
}

const devnet = await startDevnetProcess();
const env = cliEnv(devnet.url);
const rows: string[][] = [['attack', 'legitimate client served after', 'target']];
try {
  if ((await icboot(['deploy'], env)).code !== 0) throw new Error('deploy failed');
  const up = await icboot(['upload', tree], env);
  if (up.code !== 0) throw new Error(up.stderr);

  // 16 addresses in each of two /24s: 256 transfers get past the per-/24 cap of 128.
  const twoNetworks = [...loopbackAddresses(16, 10, 1), ...loopbackAddresses(16, 10, 2)];
  const attacks: [string, (port: number) => AttackOptions][] = [
    ['256 RRQs asking timeout=255, never ACKed (32 addresses in two /24s)', (port) => ({
      port, file: 'big.bin', addresses: twoNetworks, perAddress: 8, options: { timeout: '255' },
    })],
    ['256 readers at blksize 8, one ACK every 0.9 s (32 addresses in two /24s)', (port) => ({
      port, file: 'big.bin', addresses: twoNetworks, perAddress: 8, options: { blksize: '8' }, ackEveryMs: 900,
    })],
    ['500 RRQs from 100 addresses, never ACKed', (port) => ({
      port, file: 'big.bin', addresses: loopbackAddresses(100, 100), perAddress: 5,
    })],
  ];
  for (const [name, options] of attacks) {
    const gw = await startGateway(env, []);
    // The cached file the legitimate client asks for.
    await legitimateWait(gw);
    const a = await attack(options(gw.tftpPort));
    const waited = await legitimateWait(gw);
    const held = a.opened;
    a.stop();
    await gw.stop();
    rows.push([`${name}; ${held} transfers opened`, waited === null ? `> ${LIMIT_S} s` : `${waited.toFixed(2)} s`, `<= ${TARGET_S} s`]);
  }
  const gw = await startGateway(env, []);
  const amp = await amplification(gw);
  await gw.stop();
  rows.push(['windowsize 64, ACK every block: DATA packets per block', `${amp.toFixed(2)}x`, '<= 2x']);
} finally {
  await devnet.stop();
  for (const d of [tree, out, devnet.stateDir, env.cwd]) rmSync(d, { recursive: true, force: true });
}
console.log('TFTP under attack, loopback, gateway defaults (256 transfers, 8 per client)');
console.log(rows.map((r) => `| ${r.join(' | ')} |`).join('\n'));

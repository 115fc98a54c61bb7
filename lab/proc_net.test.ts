import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { socketsOn } from './proc_net.ts';

const udpBound = (port: number, table: string): boolean => socketsOn(table, port).length > 0;

const TABLE = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  123: 0100007F:1B39 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0000000000000000 0
`;

test('finds a local port in /proc/net/udp text, not a remote one', () => {
  assert.equal(udpBound(6969, TABLE), true);
  assert.equal(udpBound(69, TABLE), false);
  assert.equal(udpBound(0, TABLE), false);
});

test('sees a socket this process binds', async () => {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  try {
    assert.equal(udpBound(s.address().port, readFileSync('/proc/net/udp', 'utf8')), true);
  } finally {
    s.close();
  }
});

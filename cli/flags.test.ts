// Flag values: what each parser accepts and what it refuses as a usage error.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from 'commander';
import { byteCount, byteSize, collectHash, endpoint, endpointOrOff, fraction, instructionLimits, integer, port, principal, releaseId } from './flags.ts';

const refused = (parse: () => unknown): void => {
  assert.throws(parse, InvalidArgumentError);
};

describe('flag parsers', () => {
  it('integer: whole numbers within the bounds only', () => {
    const n = integer(1, 64);
    assert.equal(n('1'), 1);
    assert.equal(n('64'), 64);
    for (const bad of ['0', '65', '1.5', 'x', '']) refused(() => n(bad));
    assert.equal(port('0'), 0);
    refused(() => port('65536'));
    refused(() => releaseId('0'));
  });

  it('endpoint: HOST:PORT, IPv6 in brackets, or off where allowed', () => {
    assert.deepEqual(endpoint('192.168.122.1:69'), { host: '192.168.122.1', port: 69 });
    assert.deepEqual(endpoint('[::1]:6969'), { host: '::1', port: 6969 });
    for (const bad of ['192.168.122.1', ':69', 'host:70000']) refused(() => endpoint(bad));
    assert.equal(endpointOrOff('off'), null);
    assert.deepEqual(endpointOrOff('0.0.0.0:8080'), { host: '0.0.0.0', port: 8080 });
  });

  it('byteCount: plain bytes or K, M, G (binary), with an optional B or iB', () => {
    assert.equal(byteCount('268435456'), 268435456);
    assert.equal(byteCount('256M'), 256 * 1024 ** 2);
    assert.equal(byteCount('4G'), 4 * 1024 ** 3);
    assert.equal(byteCount('64KiB'), 64 * 1024);
    assert.equal(byteCount('2mb'), 2 * 1024 ** 2);
    for (const bad of ['', '1.5M', '4T', '-1', 'M']) refused(() => byteCount(bad));
  });

  it('byteSize: a byte count within the bounds only', () => {
    const size = byteSize(4096, 1_900_000);
    assert.equal(size('1M'), 1024 * 1024);
    assert.equal(size('4096'), 4096);
    for (const bad of ['4095', '2M', 'big']) refused(() => size(bad));
  });

  it('fraction: a number from 0 to 1', () => {
    assert.equal(fraction('0'), 0);
    assert.equal(fraction('0.25'), 0.25);
    assert.equal(fraction('1'), 1);
    for (const bad of ['-0.1', '1.01', 'half']) refused(() => fraction(bad));
  });

  it('collectHash: adds each lowercase hex SHA-256 to the ones before', () => {
    const a = 'a'.repeat(64);
    const b = '0'.repeat(64);
    assert.deepEqual(collectHash(b, collectHash(a, [])), [a, b]);
    for (const bad of ['a'.repeat(63), 'A'.repeat(64), 'g'.repeat(64)]) refused(() => collectHash(bad, []));
  });

  it('principal: textual principals only', () => {
    assert.equal(principal('aaaaa-aa').toText(), 'aaaaa-aa');
    refused(() => principal('not-a-principal'));
  });

  it('instructionLimits: KIND=N pairs for the four kinds only', () => {
    assert.deepEqual(instructionLimits('query=10000000,update=20'), { query: 10_000_000n, update: 20n });
    assert.deepEqual(instructionLimits('install=300000000000'), { install: 300_000_000_000n });
    for (const bad of ['', 'query', 'query=0', 'query=-1', 'query=1e9', 'heap=5', 'query=10,,update=1']) {
      assert.throws(() => instructionLimits(bad), InvalidArgumentError, bad);
    }
  });
});

// The saved release (release.json in the cache directory) while the canister
// cannot be reached: served if it verifies, otherwise reported in one log line
// and removed. Certificates are real, signed by a devnet root key.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { lebEncode } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { bytesToHex } from '@noble/hashes/utils';
import { TransientError } from '../client/errors.ts';
import { encodeJson, type Manifest } from '../common/manifest.ts';
import { node } from '../devnet/hashtree.ts';
import { Keys } from '../devnet/keys.ts';
import { tempDir } from '../lab/devnet.ts';
import { ReleaseTracker } from './release.ts';

const root = tempDir('release');
after(() => rmSync(root, { recursive: true, force: true }));
const newDir = (): string => mkdtempSync(join(root, 'd-'));

const sha256 = (b: Uint8Array): Uint8Array => createHash('sha256').update(b).digest();
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

const canisterId = Principal.fromText('rrkah-fqaaa-aaaaa-aaaaq-cai');
const keys = Keys.loadOrCreate(newDir());
const stranger = Keys.loadOrCreate(newDir());
const RELEASE = 3;

const content = utf8('icboot test\n');
const manifest = encodeJson({
  version: 1, id: RELEASE, label: 'test', author: 'test', created: '0', chunk_size: 4096,
  files: [{ path: 'version.info', size: content.length, sha256: bytesToHex(sha256(content)), chunks: [bytesToHex(sha256(content))] }],
} satisfies Manifest);

/** An index listing release RELEASE with the hash of `manifestBytes`. */
function indexOf(manifestBytes: Uint8Array): Uint8Array {
  return encodeJson({
    version: 1, current: RELEASE,
    releases: [{ id: RELEASE, label: 'test', author: 'test', created: '0', files: 1, bytes: content.length, manifest_sha256: bytesToHex(sha256(manifestBytes)) }],
  });
}

/** A certificate of `index` as the canister's certified data, signed at `at` (ms since the epoch). */
function certify(index: Uint8Array, signer = keys, at = Date.now()): Uint8Array {
  return signer.certify(node(
    ['canister', node([canisterId.toUint8Array(), node(['certified_data', sha256(index)])])],
    ['time', new Uint8Array(lebEncode(BigInt(at) * 1_000_000n))],
  ));
}

/** release.json as a gateway saves it (format icboot-saved-release/1), with `change` applied. */
function saved(change: (doc: Record<string, unknown>) => void = () => {}, index = indexOf(manifest), certificate = certify(index)): string {
  const doc: Record<string, unknown> = {
    format: 'icboot-saved-release/1', canister: canisterId.toText(), root_key: bytesToHex(keys.rootKeyDer),
    certificate: b64(certificate), index: b64(index), release: RELEASE, manifest: b64(manifest),
  };
  change(doc);
  return JSON.stringify(doc);
}

/** What every offline tracker's reader fails with. */
const down = new TransientError('canister unreachable');

/** A tracker whose canister cannot be reached, over a cache directory holding `text` as release.json. */
function offline(text: string | null, pin: number | null = null) {
  const cacheDir = newDir();
  const path = join(cacheDir, 'release.json');
  if (text !== null) writeFileSync(path, text);
  const lines: string[] = [];
  const tracker = new ReleaseTracker({
    reader: () => Promise.reject(down),
    // The IC root key is given, as for mainnet, so a certificate signed by another key cannot verify.
    trust: { canisterId, rootKey: keys.rootKeyDer },
    pin, pollSeconds: 3600, fetchTimeoutMs: 10_000, cacheDir, log: (line) => lines.push(line),
  });
  return { tracker, lines, path };
}

const unreachable = (e: unknown): boolean => e === down;

describe('saved release', () => {
  it('is served, verified again, when the canister cannot be reached, however old its certificate', async () => {
    const twoDays = 2 * 86_400_000;
    const index = indexOf(manifest);
    const { tracker, lines, path } = offline(saved(undefined, index, certify(index, keys, Date.now() - twoDays)));
    try {
      const snap = await tracker.start();
      assert.equal(snap.origin, 'disk');
      assert.equal(snap.manifest.id, RELEASE);
      assert.deepEqual([...snap.files.keys()], ['version.info']);
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0], /^release: canister unreachable \(canister unreachable\); serving release 3 saved by an earlier run, verified again against its certificate, which is 2\.0 days old/);
      assert.ok(existsSync(path));
    } finally {
      tracker.stop();
    }
  });

  it('is reported in one line naming the file and what is wrong, and removed, when it does not verify', async () => {
    const undecodable = utf8('{"version": 1, "id": 3');
    const cases: [string, string, RegExp][] = [
      ['not JSON', '{"format": "icboot-saved-release/1", ', /not a saved release \(/],
      ['another format', saved((d) => { d.format = 'icboot-saved-release/0'; }), /not a saved release of this icboot version/],
      ['another canister', saved((d) => { d.canister = 'aaaaa-aa'; }), /saved for canister aaaaa-aa/],
      ['root key not hex', saved((d) => { d.root_key = 'xyz'; }), /root key is not hex/],
      ['release id missing', saved((d) => { delete d.release; }), /release id is missing/],
      ['certificate not base64', saved((d) => { d.certificate = '%%%'; }), /certificate is not base64/],
      ['signed by another key', saved(undefined, indexOf(manifest), certify(indexOf(manifest), stranger)), /certificate verification failed/],
      ['certificate cut short', saved((d) => { d.certificate = (d.certificate as string).slice(0, 200); }), /certificate verification failed/],
      ['index edited', saved((d) => { d.index = b64(indexOf(utf8('another manifest'))); }), /the index does not match the canister's certified data/],
      ['index certified but undecodable', saved(undefined, utf8('[]')), /certified index is malformed: index is not a JSON object/],
      ['manifest edited', saved((d) => { d.manifest = b64(utf8('{}')); }), /manifest of release 3 does not match its certified hash/],
      ['manifest certified but undecodable', saved((d) => { d.manifest = b64(undecodable); }, indexOf(undecodable)), /manifest of release 3 is malformed: manifest is not valid JSON/],
      ['manifest missing', saved((d) => { delete d.manifest; }), /manifest is not base64/],
      ['release not in the index', saved((d) => { d.release = 4; }), /release 4 does not exist/],
    ];
    for (const [name, text, why] of cases) {
      const { tracker, lines, path } = offline(text);
      await assert.rejects(tracker.start(), unreachable, name);
      assert.equal(lines.length, 1, `${name}: ${lines.join('\n')}`);
      assert.ok(lines[0].startsWith(`integrity: saved release ${path} failed verification (`), `${name}: ${lines[0]}`);
      assert.ok(lines[0].endsWith('); discarded'), `${name}: ${lines[0]}`);
      assert.match(lines[0], why, name);
      assert.ok(!existsSync(path), `${name}: removed`);
    }
  });

  it('is kept but not served when it is not the pinned release', async () => {
    const text = saved();
    const { tracker, lines, path } = offline(text, 2);
    await assert.rejects(tracker.start(), unreachable);
    assert.deepEqual(lines, ['release: the saved release is 3, not the pinned release 2; not using it']);
    assert.equal(readFileSync(path, 'utf8'), text);
  });

  it('leaves the canister\'s error to report when there is none', async () => {
    const { tracker, lines } = offline(null);
    await assert.rejects(tracker.start(), unreachable);
    assert.deepEqual(lines, []);
  });
});

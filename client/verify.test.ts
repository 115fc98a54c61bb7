// Verification against a certificate recorded from a devnet running the real
// canister (client/fixtures/record.ts): the real agent checks signature, root
// key, canister and age; nothing here fakes a check. The clock is pinned to
// the recording's time, so "recent" and "too old" do not depend on when this runs.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { IC_ROOT_KEY } from '@dfinity/agent';
import { Principal } from '@dfinity/principal';
import { IntegrityError, UserError } from './errors.ts';
import { verifiedFile, verifyIndex, verifyManifest, VerifiedReader, type CertifiedSource, type IndexEvidence } from './verify.ts';

interface Recording {
  canisterId: string;
  rootKey: string;
  index: string;
  certificate: string;
  release: number;
  manifest: string;
  chunks: Record<string, string>;
}

const rec = JSON.parse(readFileSync(new URL('fixtures/certified_release.json', import.meta.url), 'utf8')) as Recording;
const bytes = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex'));
const canisterId = Principal.fromText(rec.canisterId);
const evidence: IndexEvidence = { index: bytes(rec.index), certificate: bytes(rec.certificate), rootKey: bytes(rec.rootKey) };
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const MINUTE = 60_000;

/** A copy of `b` with one bit flipped at `at` (negative: from the end). */
function flipped(b: Uint8Array, at: number): Uint8Array {
  const copy = new Uint8Array(b);
  copy[at < 0 ? copy.length + at : at] ^= 0x01;
  return copy;
}

/** The recorded replies of the canister's read methods; `patch` replaces some of them. */
function recorded(patch: Partial<CertifiedSource> = {}): CertifiedSource {
  return {
    index_certified: async () => ({ index: bytes(rec.index), certificate: [bytes(rec.certificate)] }),
    manifest: async (id) => (Number(id) === rec.release ? [bytes(rec.manifest)] : []),
    get_chunk: async (hash) => {
      const data = rec.chunks[Buffer.from(hash).toString('hex')];
      return data === undefined ? [] : [bytes(data)];
    },
    ...patch,
  };
}

const reader = (source = recorded(), rootKey: Uint8Array | null = bytes(rec.rootKey)): VerifiedReader =>
  new VerifiedReader(source, { rootKey }, canisterId);

async function readAll(r: VerifiedReader, path: string): Promise<Buffer> {
  const m = await r.manifest(await r.index());
  const parts: Uint8Array[] = [];
  for await (const part of r.file(m.files.find((f) => f.path === path)!)) parts.push(part);
  return Buffer.concat(parts);
}

const isIntegrity = (e: unknown): boolean => e instanceof IntegrityError;

describe('verification of a recorded certified release', () => {
  /** When the IC signed the recorded certificate. */
  let certifiedAt: number;

  beforeEach(async () => {
    certifiedAt = (await verifyIndex(evidence, canisterId, true)).certifiedAt;
    mock.timers.enable({ apis: ['Date'], now: certifiedAt + MINUTE });
  });
  afterEach(() => mock.timers.reset());

  it('passes: certificate, index, manifest and every chunk of every file', async () => {
    const r = reader();
    const certified = await r.index();
    assert.equal(certified.hash, sha256(evidence.index));
    assert.equal(certified.index.current, rec.release);
    const { manifest, bytes: raw } = await r.release(certified);
    assert.equal(manifest.id, rec.release);
    assert.deepEqual(raw, bytes(rec.manifest));
    assert.ok(manifest.files.some((f) => f.chunks.length > 1), 'the recording has a file of several chunks');
    for (const f of manifest.files) {
      const data = await readAll(r, f.path);
      assert.equal(data.length, f.size, f.path);
      assert.equal(sha256(data), f.sha256, f.path);
    }
  });

  it('fails against another root key: mainnet\'s, or the recorded one altered', async () => {
    await assert.rejects(verifyIndex({ ...evidence, rootKey: bytes(IC_ROOT_KEY) }, canisterId), isIntegrity);
    await assert.rejects(verifyIndex({ ...evidence, rootKey: flipped(evidence.rootKey, -1) }, canisterId), isIntegrity);
    await assert.rejects(reader(recorded(), bytes(IC_ROOT_KEY)).index(), isIntegrity);
  });

  it('fails without a root key', async () => {
    await assert.rejects(reader(recorded(), null).index(), isIntegrity);
  });

  it('fails for another canister id', async () => {
    const other = Principal.fromText('xy35t-veaaa-aaaaa-qapua-cai');
    assert.notEqual(other.toText(), canisterId.toText());
    await assert.rejects(verifyIndex(evidence, other), isIntegrity);
    await assert.rejects(new VerifiedReader(recorded(), { rootKey: evidence.rootKey }, other).index(), isIntegrity);
  });

  it('fails when the certificate is more than 5 minutes old, unless any age is accepted', async () => {
    mock.timers.setTime(certifiedAt + 6 * MINUTE);
    await assert.rejects(verifyIndex(evidence, canisterId), isIntegrity);
    await assert.rejects(reader().index(), isIntegrity);
    // A saved release read while the canister is unreachable.
    assert.equal((await verifyIndex(evidence, canisterId, true)).certifiedAt, certifiedAt);
  });

  it('fails when the certificate is from the future', async () => {
    mock.timers.setTime(certifiedAt - 10 * MINUTE);
    await assert.rejects(verifyIndex(evidence, canisterId), isIntegrity);
  });

  it('fails when the certificate or its signature is altered', async () => {
    // The signature is the certificate's last field: its last byte is the signature's.
    await assert.rejects(verifyIndex({ ...evidence, certificate: flipped(evidence.certificate, -1) }, canisterId), isIntegrity);
    await assert.rejects(verifyIndex({ ...evidence, certificate: evidence.certificate.subarray(0, evidence.certificate.length - 30) }, canisterId), isIntegrity);
    await assert.rejects(reader(recorded({ index_certified: async () => ({ index: evidence.index, certificate: [] }) })).index(), isIntegrity);
  });

  it('fails when the index is tampered with', async () => {
    const tampered = new TextEncoder().encode(new TextDecoder().decode(evidence.index).replace('"recorded"', '"tampered"'));
    assert.notDeepEqual(tampered, evidence.index);
    await assert.rejects(verifyIndex({ ...evidence, index: tampered }, canisterId), isIntegrity);
    await assert.rejects(reader(recorded({ index_certified: async () => ({ index: tampered, certificate: [evidence.certificate] }) })).index(), isIntegrity);
  });

  it('fails when the manifest is tampered with or missing; an unknown release is the user\'s error', async () => {
    const certified = await verifyIndex(evidence, canisterId);
    assert.equal(verifyManifest(certified, rec.release, bytes(rec.manifest)).id, rec.release);
    assert.throws(() => verifyManifest(certified, rec.release, flipped(bytes(rec.manifest), 40)), isIntegrity);
    assert.throws(() => verifyManifest(certified, rec.release, undefined), isIntegrity);
    await assert.rejects(reader(recorded({ manifest: async () => [flipped(bytes(rec.manifest), 40)] })).manifest(certified), isIntegrity);
    assert.throws(() => verifyManifest(certified, rec.release + 1, bytes(rec.manifest)), (e) => e instanceof UserError && !(e instanceof IntegrityError));
  });

  it('fails when a chunk is tampered with or missing', async () => {
    const [hash, data] = Object.entries(rec.chunks)[0];
    const lying = (reply: [] | [Uint8Array]): VerifiedReader => reader(recorded({ get_chunk: async () => reply }));
    assert.deepEqual(await reader().chunk(hash), bytes(data));
    await assert.rejects(lying([flipped(bytes(data), 0)]).chunk(hash), isIntegrity);
    await assert.rejects(lying([bytes(data).subarray(1)]).chunk(hash), isIntegrity);
    await assert.rejects(lying([]).chunk(hash), isIntegrity);
  });

  it('withholds the last chunk of a file whose whole size or SHA-256 does not match', async () => {
    const certified = await verifyIndex(evidence, canisterId);
    const r = reader();
    const file = (await r.manifest(certified)).files.find((f) => f.chunks.length > 1)!;
    for (const wrong of [{ ...file, size: file.size + 1 }, { ...file, sha256: sha256(new Uint8Array()) }]) {
      const seen: Uint8Array[] = [];
      await assert.rejects(async () => {
        for await (const part of verifiedFile(wrong, (h) => r.chunk(h))) seen.push(part);
      }, isIntegrity);
      assert.equal(seen.length, file.chunks.length - 1, 'every chunk but the last');
    }
  });

  it('checks a file whole again on every read until it has checked out once', async () => {
    const certified = await verifyIndex(evidence, canisterId);
    const r = reader();
    const file = (await r.manifest(certified)).files.find((f) => f.chunks.length > 1)!;
    const wrong = { ...file, size: file.size + 1 };
    const read = async (f: typeof file): Promise<number> => {
      let n = 0;
      for await (const part of verifiedFile(f, (h) => r.chunk(h))) n += part.length;
      return n;
    };
    for (let i = 0; i < 2; i++) await assert.rejects(read(wrong), isIntegrity, `read ${i + 1} of a wrong file`);
    for (let i = 0; i < 2; i++) assert.equal(await read(file), file.size, `read ${i + 1} of the right file`);
    await assert.rejects(read(wrong), isIntegrity, 'a wrong file after the right one checked out');
  });
});

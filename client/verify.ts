// Reading a boot tree so that every byte is checked against the IC root key:
// certificate (root key, canister, freshness) → certified_data = SHA-256(index)
// → SHA-256(manifest) listed in the index → SHA-256 of every chunk listed in
// the manifest → SHA-256 of the whole file.
import { Certificate, lookupResultToBuffer, type HttpAgent } from '@dfinity/agent';
import { lebDecode, PipeArrayBuffer } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';
import { createHash } from 'node:crypto';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils';
import {
  decodeIndex, decodeManifest, ManifestError, type Index, type Manifest, type ManifestFile,
} from '../common/manifest.ts';
import type { IcbootService } from '../common/icboot_idl.ts';
import { IntegrityError, UserError } from './errors.ts';

// Node's native SHA-256: the gateway hashes every byte it serves.
const sha256 = (b: Uint8Array): Uint8Array => createHash('sha256').update(b).digest();

/** What an index's verification rests on; kept with a saved release so it can be verified again. */
export interface IndexEvidence {
  /** The index bytes, as the canister returned them. */
  index: Uint8Array;
  certificate: Uint8Array;
  /** The IC root key (DER) the certificate was checked against. */
  rootKey: Uint8Array;
}

export interface CertifiedIndex {
  index: Index;
  /** SHA-256 of the index bytes, as certified. */
  hash: string;
  evidence: IndexEvidence;
  /** When the IC signed the certificate, ms since the epoch. */
  certifiedAt: number;
}

/** A release's manifest with the exact bytes its certified hash covers. */
export interface CertifiedManifest {
  manifest: Manifest;
  bytes: Uint8Array;
}

/**
 * Certificate (root key, canister id, age) → certified_data = SHA-256(index).
 * `anyAge` accepts an old certificate (a saved release read while the
 * canister is unreachable); otherwise it must be at most 5 minutes old.
 */
export async function verifyIndex(e: IndexEvidence, canisterId: Principal, anyAge = false): Promise<CertifiedIndex> {
  let cert: Certificate;
  try {
    cert = await Certificate.create({ certificate: e.certificate, rootKey: e.rootKey, canisterId, disableTimeVerification: anyAge });
  } catch (err) {
    throw new IntegrityError(`certificate verification failed: ${(err as Error).message.split('\n')[0]}`);
  }
  const certified = lookupResultToBuffer(cert.lookup_path(['canister', canisterId.toUint8Array(), 'certified_data']));
  if (!certified) throw new IntegrityError('the certificate does not contain the canister\'s certified data');
  const time = lookupResultToBuffer(cert.lookup_path(['time']));
  if (!time) throw new IntegrityError('the certificate has no time');
  const hash = sha256(e.index);
  if (bytesToHex(certified) !== bytesToHex(hash)) {
    throw new IntegrityError('the index does not match the canister\'s certified data');
  }
  const certifiedAt = Number(lebDecode(new PipeArrayBuffer(time)) / 1_000_000n);
  try {
    return { index: decodeIndex(e.index), hash: bytesToHex(hash), evidence: e, certifiedAt };
  } catch (err) {
    throw new IntegrityError(`certified index is malformed: ${(err as ManifestError).message}`);
  }
}

/** The manifest of release `id`, checked against the hash the certified index lists for it. */
export function verifyManifest(certified: CertifiedIndex, id: number, bytes: Uint8Array | undefined): Manifest {
  const entry = certified.index.releases.find((r) => r.id === id);
  if (!entry) throw new UserError(`release ${id} does not exist`);
  if (!bytes) throw new IntegrityError(`release ${id} is in the certified index but its manifest is missing`);
  if (bytesToHex(sha256(bytes)) !== entry.manifest_sha256) {
    throw new IntegrityError(`manifest of release ${id} does not match its certified hash`);
  }
  try {
    const m = decodeManifest(bytes);
    if (m.id !== id) throw new ManifestError(`manifest names release ${m.id}`);
    return m;
  } catch (e) {
    throw new IntegrityError(`manifest of release ${id} is malformed: ${(e as Error).message}`);
  }
}

/** The canister methods a VerifiedReader reads through. */
export type CertifiedSource = Pick<IcbootService, 'index_certified' | 'manifest' | 'get_chunk'>;

export class VerifiedReader {
  constructor(
    private readonly canister: CertifiedSource,
    /** Holds the IC root key (the agent fetched or was given it). */
    private readonly agent: Pick<HttpAgent, 'rootKey'>,
    private readonly canisterId: Principal,
  ) {}

  async index(): Promise<CertifiedIndex> {
    const { index, certificate } = await this.canister.index_certified();
    const raw = certificate[0];
    if (!raw) throw new IntegrityError('the canister returned no data certificate for its index');
    const rootKey = this.agent.rootKey;
    if (!rootKey) throw new IntegrityError('no IC root key to verify the certificate with');
    return verifyIndex({ index, certificate: raw, rootKey }, this.canisterId);
  }

  /** The manifest of release `id` (default: current) with its bytes, checked against the certified index. */
  async release(certified: CertifiedIndex, id?: number): Promise<CertifiedManifest> {
    const wanted = id ?? certified.index.current;
    if (wanted === null || wanted === undefined) throw new UserError('no release is published yet');
    const [bytes] = await this.canister.manifest(BigInt(wanted));
    return { manifest: verifyManifest(certified, wanted, bytes), bytes: bytes! };
  }

  async manifest(certified: CertifiedIndex, id?: number): Promise<Manifest> {
    return (await this.release(certified, id)).manifest;
  }

  /** A chunk's bytes, verified against its hash. */
  async chunk(hash: string): Promise<Uint8Array> {
    const [data] = await this.canister.get_chunk(hexToBytes(hash));
    if (!data) throw new IntegrityError(`chunk ${hash} is missing from the canister`);
    if (bytesToHex(sha256(data)) !== hash) throw new IntegrityError(`chunk ${hash} does not match its hash`);
    return data;
  }

  /** The file's bytes in order, verified (see verifiedFile). */
  file(file: ManifestFile): AsyncGenerator<Uint8Array> {
    return verifiedFile(file, (hash) => this.chunk(hash));
  }
}

/**
 * A file's bytes in order, from a source of chunks that each check their own
 * hash. The last chunk is yielded only once the whole file's size and SHA-256
 * check out, so a consumer never sees a complete-looking wrong file.
 * `ahead(hash)` is told of upcoming chunks, for read-ahead. A file checks
 * whole once: its chunks are pinned by their hashes, so later reads of it
 * yield the same bytes, and a gateway serving it to a hundred machines need
 * not hash it a hundred times.
 */
export async function* verifiedFile(
  file: ManifestFile,
  chunk: (hash: string) => Promise<Uint8Array>,
  ahead: (hash: string) => void = () => {},
  readAhead = 0,
): AsyncGenerator<Uint8Array> {
  const whole = wholeChecked.has(file) ? null : createHash('sha256');
  let size = 0;
  for (let i = 0; i < file.chunks.length; i++) {
    for (let k = i + 1; k <= i + readAhead && k < file.chunks.length; k++) ahead(file.chunks[k]);
    const data = await chunk(file.chunks[i]);
    whole?.update(data);
    size += data.length;
    if (i === file.chunks.length - 1 && whole) checkWhole(file, size, whole.digest());
    yield data;
  }
  if (file.chunks.length === 0 && whole) checkWhole(file, 0, whole.digest());
}

/** Files (of verified manifests, by identity) whose whole size and SHA-256 have checked out. */
const wholeChecked = new WeakSet<ManifestFile>();

function checkWhole(file: ManifestFile, size: number, digest: Uint8Array): void {
  if (size !== file.size || bytesToHex(digest) !== file.sha256) {
    throw new IntegrityError(`${file.path} does not match its certified size and SHA-256`);
  }
  wholeChecked.add(file);
}

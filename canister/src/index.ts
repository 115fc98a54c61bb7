// The icboot canister: a content-addressed chunk store, immutable releases
// (manifests of boot trees) and a certified index naming the current release.
// Methods validate and delegate; all state lives in stable memory.
import {
  Principal, StableBTreeMap, canisterCycleBalance, certifiedDataSet, dataCertificate, init, isController, msgCaller,
  postUpgrade, time, trap,
} from 'azle';
import { sha256 } from '@noble/hashes/sha2';
import type {
  CanisterStatus, ChunkUpload, GcResult, IcbootService, IndexWithCertificate, NewRelease,
} from '../../common/icboot_idl.ts';
import {
  MANIFEST_VERSION, jsonText, type Index, type Manifest, type ManifestFile,
} from '../../common/manifest.ts';
import {
  MAX_AUTHORIZED, MAX_CHUNKS_PER_RELEASE, MAX_CHUNK_BYTES, MAX_FILES, MAX_GC_BATCH, MAX_LABEL_BYTES, MAX_MANIFEST_BYTES,
  MAX_PUT_BYTES, MAX_QUERY_HASHES, MAX_RELEASES, MIN_CHUNK_SIZE,
} from '../../common/limits.ts';
import { pathError, utf8Length } from '../../common/path.ts';
import { chunkCount, chunkLength } from '../../common/chunks.ts';
import { candid, type Implementation } from './candid.ts';
import { asciiBytes, decodeText, hex, unhex } from './text.ts';

/** Blobs stored as they are; Azle's default JSON encoding is slow for bytes. */
const raw = { toBytes: (b: Uint8Array): Uint8Array => b, fromBytes: (b: Uint8Array): Uint8Array => b };
const u64 = {
  toBytes: (n: bigint): Uint8Array => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, n);
    return b;
  },
  fromBytes: (b: Uint8Array): bigint => new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0),
};

interface Counters {
  nextRelease: number;
  chunks: number;
  chunkBytes: number;
}

function fail(message: string): never {
  trap(`icboot: ${message}`);
}

export default class implements Implementation<IcbootService> {
  /** SHA-256 → chunk bytes. */
  chunks = new StableBTreeMap<Uint8Array, Uint8Array>(0, raw, raw);
  /** Release id → manifest bytes. */
  manifests = new StableBTreeMap<bigint, Uint8Array>(1, u64, raw);
  /** SHA-256 → number of releases naming the chunk. */
  refs = new StableBTreeMap<Uint8Array, bigint>(2, raw, u64);
  /** Chunks a deleted release left unnamed: gc removes them. */
  garbage = new StableBTreeMap<Uint8Array, Uint8Array>(3, raw, raw);
  /** Principals (text) that may write besides controllers. */
  writers = new StableBTreeMap<string, boolean>(4);
  /** 'index' → the certified index bytes; 'counters' → Counters as JSON. */
  state = new StableBTreeMap<string, Uint8Array>(5, undefined, raw);
  /** SHA-256 → chunk length, so checking a release does not read chunk bytes. */
  sizes = new StableBTreeMap<Uint8Array, bigint>(6, raw, u64);
  /**
   * Chunks uploaded but not yet named by a release, keyed upload time ‖ hash so
   * gc meets the oldest first; an upload in progress is left alone for a day.
   */
  pending = new StableBTreeMap<Uint8Array, Uint8Array>(7, raw, raw);
  /** SHA-256 → upload time of a pending chunk. */
  pendingAt = new StableBTreeMap<Uint8Array, bigint>(8, raw, u64);

  @init([])
  init(): void {
    this.certify(this.indexBytes());
  }

  @postUpgrade([])
  postUpgrade(): void {
    // certified_data does survive upgrades on the IC; setting it again makes a
    // canister restored from stable memory alone (or an older version) consistent.
    this.certify(this.indexBytes());
  }

  @candid
  put_chunks(uploads: ChunkUpload[]): number {
    this.requireWriter();
    let total = 0;
    for (const u of uploads) {
      if (u.hash.length !== 32) fail('a chunk hash must be 32 bytes (SHA-256)');
      if (u.data.length === 0 || u.data.length > MAX_CHUNK_BYTES) fail(`a chunk must be 1 to ${MAX_CHUNK_BYTES} bytes`);
      total += u.data.length;
    }
    if (total > MAX_PUT_BYTES) fail(`put_chunks takes at most ${MAX_PUT_BYTES} bytes per call`);
    const counters = this.counters();
    let stored = 0;
    for (const u of uploads) {
      // Content addressing is checked by every reader against the certified
      // manifest; hashing here in QuickJS would cost ~1 s per MiB.
      if (this.sizes.containsKey(u.hash)) continue;
      this.chunks.insert(u.hash, u.data);
      this.sizes.insert(u.hash, BigInt(u.data.length));
      if (!this.refs.containsKey(u.hash)) {
        const now = time();
        this.pending.insert(pendingKey(now, u.hash), new Uint8Array());
        this.pendingAt.insert(u.hash, now);
      }
      counters.chunks += 1;
      counters.chunkBytes += u.data.length;
      stored += 1;
    }
    this.saveCounters(counters);
    return stored;
  }

  @candid
  missing_chunks(hashes: Uint8Array[]): Uint8Array[] {
    if (hashes.length > MAX_QUERY_HASHES) fail(`missing_chunks takes at most ${MAX_QUERY_HASHES} hashes`);
    return hashes.filter((h) => !this.sizes.containsKey(h));
  }

  @candid
  get_chunk(hash: Uint8Array): [Uint8Array] | [] {
    const data = this.chunks.get(hash);
    return data === undefined ? [] : [data];
  }

  @candid
  create_release(r: NewRelease): bigint {
    const author = this.requireWriter();
    if (utf8Length(r.label) > MAX_LABEL_BYTES) fail(`label is longer than ${MAX_LABEL_BYTES} bytes`);
    if (/[\u0000-\u001f\u007f]/.test(r.label)) fail('label contains a control character');
    if (r.chunk_size < MIN_CHUNK_SIZE || r.chunk_size > MAX_CHUNK_BYTES) fail(`chunk_size must be ${MIN_CHUNK_SIZE} to ${MAX_CHUNK_BYTES}`);
    if (r.files.length > MAX_FILES) fail(`a release holds at most ${MAX_FILES} files`);
    const index = this.index();
    if (index.releases.length >= MAX_RELEASES) fail(`at most ${MAX_RELEASES} releases; delete old ones first`);
    const { files, chunks } = this.checkFiles(r);
    const counters = this.counters();
    const id = counters.nextRelease;
    const manifest: Manifest = {
      version: MANIFEST_VERSION, id, label: r.label, author: author.toText(), created: time().toString(),
      chunk_size: r.chunk_size, files,
    };
    const text = jsonText(manifest);
    if (text.length > MAX_MANIFEST_BYTES) fail(`manifest of ${text.length} bytes exceeds ${MAX_MANIFEST_BYTES}`);
    const bytes = asciiBytes(text);
    for (const hash of chunks.values()) {
      const refs = this.refs.get(hash);
      this.refs.insert(hash, (refs ?? 0n) + 1n);
      // A chunk some release names is neither garbage nor a pending upload.
      if (refs !== undefined) continue;
      this.garbage.remove(hash);
      const uploaded = this.pendingAt.remove(hash);
      if (uploaded !== undefined) this.pending.remove(pendingKey(uploaded, hash));
    }
    this.manifests.insert(BigInt(id), bytes);
    counters.nextRelease = id + 1;
    this.saveCounters(counters);
    index.releases.push({
      id, label: r.label, author: manifest.author, created: manifest.created, files: files.length,
      bytes: files.reduce((n, f) => n + f.size, 0), manifest_sha256: hex(sha256(bytes)),
    });
    this.saveIndex(index);
    return BigInt(id);
  }

  /** Makes a release current, atomically (roll forward or back). */
  @candid
  publish(id: bigint): void {
    this.requireWriter();
    const index = this.index();
    if (!index.releases.some((r) => r.id === Number(id))) fail(`release ${id} does not exist`);
    index.current = Number(id);
    this.saveIndex(index);
  }

  /** Deletes a release that is not current; its chunks become garbage when no other release names them. */
  @candid
  delete_release(id: bigint): void {
    this.requireWriter();
    const index = this.index();
    const n = Number(id);
    if (index.current === n) fail(`release ${id} is current; publish another release first`);
    const bytes = this.manifests.get(id);
    if (!bytes || !index.releases.some((r) => r.id === n)) fail(`release ${id} does not exist`);
    const manifest = JSON.parse(decodeText(bytes)) as Manifest;
    for (const h of new Set(manifest.files.flatMap((f) => f.chunks))) {
      const hash = unhex(h);
      const left = (this.refs.get(hash) ?? 1n) - 1n;
      if (left > 0n) {
        this.refs.insert(hash, left);
      } else {
        this.refs.remove(hash);
        this.garbage.insert(hash, new Uint8Array());
      }
    }
    this.manifests.remove(id);
    index.releases = index.releases.filter((r) => r.id !== n);
    this.saveIndex(index);
  }

  /**
   * Deletes up to `limit` chunks no release names: those deleted releases left,
   * then uploads older than a day that no release took up. `remaining` counts
   * unnamed chunks still stored (recent uploads included); call again while
   * `deleted` > 0.
   */
  @candid
  gc(limit: number): GcResult {
    this.requireWriter();
    const budget = Math.min(Math.max(limit, 1), MAX_GC_BATCH);
    const counters = this.counters();
    let freed = 0;
    let deleted = 0;
    const drop = (hash: Uint8Array): void => {
      if (this.refs.containsKey(hash)) return;
      const size = this.sizes.remove(hash);
      if (size === undefined) return;
      this.chunks.remove(hash);
      freed += Number(size);
      deleted += 1;
      counters.chunks -= 1;
      counters.chunkBytes -= Number(size);
    };
    for (const hash of this.garbage.keys(0, budget)) {
      this.garbage.remove(hash);
      drop(hash);
    }
    const cutoff = time() - PENDING_GRACE_NS;
    for (const key of this.pending.keys(0, budget - deleted)) {
      const uploaded = u64.fromBytes(key.subarray(0, 8));
      if (uploaded > cutoff) break;
      const hash = key.slice(8);
      this.pending.remove(key);
      this.pendingAt.remove(hash);
      drop(hash);
    }
    this.saveCounters(counters);
    return { deleted, freed_bytes: BigInt(freed), remaining: BigInt(this.garbage.len() + this.pending.len()) };
  }

  /** The index and, in a query, the certificate that covers SHA-256(index). */
  @candid
  index_certified(): IndexWithCertificate {
    const c = dataCertificate();
    return { index: this.indexBytes(), certificate: c === undefined ? [] : [c] };
  }

  @candid
  manifest(id: bigint): [Uint8Array] | [] {
    const m = this.manifests.get(id);
    return m === undefined ? [] : [m];
  }

  @candid
  authorize(p: Principal): void {
    this.requireController();
    if (p.isAnonymous()) fail('the anonymous principal cannot be authorized: it would let anyone write');
    if (this.writers.containsKey(p.toText())) return;
    if (this.writers.len() >= MAX_AUTHORIZED) fail(`at most ${MAX_AUTHORIZED} authorized principals`);
    this.writers.insert(p.toText(), true);
  }

  @candid
  deauthorize(p: Principal): void {
    this.requireController();
    if (!this.writers.remove(p.toText())) fail(`${p.toText()} is not authorized`);
  }

  @candid
  authorized(): Principal[] {
    return this.writers.keys().map((t) => Principal.fromText(t));
  }

  @candid
  status(): CanisterStatus {
    const index = this.index();
    const counters = this.counters();
    return {
      releases: index.releases.length,
      current: index.current === null ? [] : [BigInt(index.current)],
      chunks: BigInt(counters.chunks),
      chunk_bytes: BigInt(counters.chunkBytes),
      logical_bytes: BigInt(index.releases.reduce((n, r) => n + r.bytes, 0)),
      garbage_chunks: BigInt(this.garbage.len() + this.pending.len()),
      authorized: this.writers.len(),
      cycles: canisterCycleBalance(),
    };
  }

  /** The release's files as the manifest lists them, and its distinct chunks by hex hash. */
  private checkFiles(r: NewRelease): { files: ManifestFile[]; chunks: Map<string, Uint8Array> } {
    const seen = new Set<string>();
    const dirs = new Set<string>();
    let named = 0;
    const files: ManifestFile[] = [];
    const chunks = new Map<string, Uint8Array>();
    for (const f of r.files) {
      const err = pathError(f.path);
      if (err) fail(`${JSON.stringify(f.path)}: ${err}`);
      if (seen.has(f.path)) fail(`${f.path}: listed twice`);
      seen.add(f.path);
      const parts = f.path.split('/');
      for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
      if (f.sha256.length !== 32) fail(`${f.path}: sha256 must be 32 bytes`);
      const size = Number(f.size);
      const expected = chunkCount(size, r.chunk_size);
      if (f.chunks.length !== expected) fail(`${f.path}: ${size} bytes need ${expected} chunks of ${r.chunk_size}, got ${f.chunks.length}`);
      named += f.chunks.length;
      if (named > MAX_CHUNKS_PER_RELEASE) fail(`a release names at most ${MAX_CHUNKS_PER_RELEASE} chunks`);
      let total = 0;
      f.chunks.forEach((hash, i) => {
        if (hash.length !== 32) fail(`${f.path}: chunk hashes must be 32 bytes`);
        const stored = this.sizes.get(hash);
        if (stored === undefined) fail(`${f.path}: chunk ${hex(hash)} has not been uploaded`);
        const length = Number(stored);
        const want = chunkLength(size, r.chunk_size, i);
        if (length !== want) fail(`${f.path}: chunk ${i} is ${length} bytes, expected ${want}`);
        total += length;
      });
      if (total !== size) fail(`${f.path}: chunks add up to ${total} bytes, not ${size}`);
      const names = f.chunks.map(hex);
      names.forEach((h, i) => chunks.set(h, f.chunks[i]));
      files.push({ path: f.path, size, sha256: hex(f.sha256), chunks: names });
    }
    for (const f of files) if (dirs.has(f.path)) fail(`${f.path}: is both a file and a directory`);
    return { files: files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)), chunks };
  }

  private requireWriter(): Principal {
    const caller = msgCaller();
    if (isController(caller) || this.writers.containsKey(caller.toText())) return caller;
    fail(`${caller.toText()} is not authorized to write; a controller can run \`icboot authorize ${caller.toText()}\``);
  }

  private requireController(): void {
    const caller = msgCaller();
    if (!isController(caller)) fail(`only controllers may change authorizations; ${caller.toText()} is not a controller`);
  }

  private indexBytes(): Uint8Array {
    return this.state.get('index') ?? asciiBytes(jsonText({ version: MANIFEST_VERSION, current: null, releases: [] } satisfies Index));
  }

  private index(): Index {
    return JSON.parse(decodeText(this.indexBytes())) as Index;
  }

  private saveIndex(index: Index): void {
    const bytes = asciiBytes(jsonText(index));
    this.state.insert('index', bytes);
    this.certify(bytes);
  }

  private certify(indexBytes: Uint8Array): void {
    certifiedDataSet(sha256(indexBytes));
  }

  private counters(): Counters {
    const b = this.state.get('counters');
    return b ? (JSON.parse(decodeText(b)) as Counters) : { nextRelease: 1, chunks: 0, chunkBytes: 0 };
  }

  private saveCounters(c: Counters): void {
    this.state.insert('counters', asciiBytes(JSON.stringify(c)));
  }
}

/** Uploads younger than this are not collected: their release may be on its way. */
const PENDING_GRACE_NS = 24n * 3600n * 1_000_000_000n;

function pendingKey(uploaded: bigint, hash: Uint8Array): Uint8Array {
  const key = new Uint8Array(40);
  key.set(u64.toBytes(uploaded), 0);
  key.set(hash, 8);
  return key;
}

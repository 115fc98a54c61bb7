// `icboot upload DIR`: walk → hash (streaming) → ask which chunks the canister
// lacks → send only those, several calls in flight → create the release →
// publish it. The tree's machine profiles (icboot/) are checked first, so a
// release never holds ones the gateway would refuse. Running it again after
// an interruption sends only what is still missing, because chunks already
// stored are never asked for.
import { basename, resolve } from 'node:path';
import { UserError } from '../client/errors.ts';
import { retry as retryWith } from '../client/retry.ts';
import type { IcbootService, NewRelease } from '../common/icboot_idl.ts';
import {
  MAX_CHUNKS_PER_RELEASE, MAX_FILES, MAX_LABEL_BYTES, MAX_MANIFEST_BYTES, MAX_PUT_BYTES, MAX_QUERY_HASHES,
} from '../common/limits.ts';
import { chunkCount, chunkLength } from '../common/chunks.ts';
import { loadMachines } from '../common/machines/parse.ts';
import { utf8Length } from '../common/path.ts';
import { decodeIndex, decodeManifest, type Manifest } from '../common/manifest.ts';
import { hashFile, readChunk, type HashedFile } from './chunker.ts';
import { estimateUploadCost, manifestBytes, type UploadCost } from './cost.ts';
import { treeReader } from './tree.ts';
import { packPutCalls } from './put_calls.ts';
import { walkTree, type TreeFile } from './walk.ts';

export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
export const DEFAULT_CONCURRENCY = 4;
/** Attempts per call: a transient failure is retried with the shared backoff. */
const ATTEMPTS = 6;

/**
 * The label of a tree uploaded without one: the directory's own name, so
 * `./tree`, `tree/` and `/srv/tree` name the same release (an identical
 * upload then creates nothing), and no local path is published.
 */
export function defaultLabel(dir: string): string {
  const full = resolve(dir);
  return basename(full) || full;
}

export interface UploadOptions {
  label: string;
  chunkSize: number;
  concurrency: number;
  dryRun: boolean;
  publish: boolean;
  /** Create no release when the current one already holds exactly this tree, under this label. */
  skipIfCurrent?: boolean;
  /** Nodes of the subnet the dry run prices the upload for (13 when not given). */
  subnetSize?: number;
}

export type UploadPhase = 'hashing' | 'checking' | 'sending' | 'publishing';

export interface Progress {
  phase: UploadPhase;
  done: number;
  total: number;
  /** While sending (where done and total are bytes): chunks stored so far, of those to send. */
  chunks?: { done: number; total: number };
}

export interface UploadReport {
  files: number;
  bytes: number;
  chunks: number;
  newChunks: number;
  reusedChunks: number;
  bytesSent: number;
  seconds: number;
  releaseId: bigint | null;
  published: boolean;
  /** The current release already held this tree under this label; nothing was created. */
  unchanged?: boolean;
  /** A dry run's estimate of what the upload would cost on mainnet. */
  cost?: UploadCost;
}

interface ChunkRef {
  file: HashedFile;
  index: number;
  size: number;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const seconds = (since: number): number => (performance.now() - since) / 1000;

export async function upload(
  canister: IcbootService,
  dir: string,
  o: UploadOptions,
  progress: (p: Progress) => void = () => {},
): Promise<UploadReport> {
  const started = performance.now();
  const tree = walkTree(dir);
  checkLimits(tree, o);
  await loadMachines(treeReader(tree));
  // An empty put checks write access before minutes of hashing and sending.
  if (!o.dryRun) await retry(() => canister.put_chunks([]));
  const files = await hashTree(tree, o.chunkSize, progress);
  const refs = distinctChunks(files, o.chunkSize);
  const missing = (await findMissing(canister, [...refs.keys()], progress)).map((h) => refs.get(h)!);
  const missingBytes = missing.reduce((n, r) => n + r.size, 0);
  const report: UploadReport = {
    files: files.length,
    bytes: tree.reduce((n, f) => n + f.size, 0),
    chunks: refs.size,
    newChunks: missing.length,
    reusedChunks: refs.size - missing.length,
    bytesSent: 0,
    seconds: 0,
    releaseId: null,
    published: false,
  };
  if (o.dryRun) {
    const cost = estimateUploadCost({ missing: missing.map((r) => r.size), release: newRelease(files, o), publish: o.publish }, o.subnetSize);
    return { ...report, bytesSent: missingBytes, cost, seconds: seconds(started) };
  }
  if (o.skipIfCurrent && missing.length === 0) {
    const current = await currentRelease(canister);
    if (current && current.label === o.label && sameTree(current, files, o.chunkSize)) {
      return { ...report, releaseId: BigInt(current.id), published: true, unchanged: true, seconds: seconds(started) };
    }
  }
  const sending = (bytes: number, chunks: number): void => {
    progress({ phase: 'sending', done: bytes, total: missingBytes, chunks: { done: chunks, total: missing.length } });
  };
  sending(0, 0);
  const bytesSent = await sendChunks(canister, missing, o, sending);
  progress({ phase: 'publishing', done: 0, total: 1 });
  const release = await createRelease(canister, files, o);
  progress({ phase: 'publishing', done: 1, total: 1 });
  return { ...report, bytesSent, ...release, seconds: seconds(started) };
}

/** Hashes the files one after another, reporting bytes hashed. */
async function hashTree(tree: TreeFile[], chunkSize: number, progress: (p: Progress) => void): Promise<HashedFile[]> {
  const total = tree.reduce((n, f) => n + f.size, 0);
  const files: HashedFile[] = [];
  let hashed = 0;
  for (const f of tree) {
    files.push(await hashFile(f, chunkSize));
    hashed += f.size;
    progress({ phase: 'hashing', done: hashed, total });
  }
  return files;
}

/** The first occurrence of each distinct chunk, by hex hash: identical chunks are sent once. */
function distinctChunks(files: HashedFile[], chunkSize: number): Map<string, ChunkRef> {
  const refs = new Map<string, ChunkRef>();
  for (const file of files) {
    file.chunks.forEach((hash, index) => {
      const key = hex(hash);
      if (!refs.has(key)) refs.set(key, { file, index, size: chunkLength(file.size, chunkSize, index) });
    });
  }
  return refs;
}

/** The hex hashes the canister does not hold yet, asked in batches of MAX_QUERY_HASHES. */
async function findMissing(canister: IcbootService, all: string[], progress: (p: Progress) => void): Promise<string[]> {
  const missing: string[] = [];
  for (let i = 0; i < all.length; i += MAX_QUERY_HASHES) {
    const batch = all.slice(i, i + MAX_QUERY_HASHES).map((h) => Buffer.from(h, 'hex'));
    for (const h of await retry(() => canister.missing_chunks(batch))) missing.push(hex(h));
    progress({ phase: 'checking', done: Math.min(i + MAX_QUERY_HASHES, all.length), total: all.length });
  }
  return missing;
}

/**
 * Sends the chunks in put_chunks calls, `o.concurrency` calls in flight, and
 * returns the bytes sent; `sent` hears the running totals after each call.
 */
async function sendChunks(
  canister: IcbootService, chunks: ChunkRef[], o: UploadOptions, sent: (bytes: number, chunks: number) => void,
): Promise<number> {
  if (o.chunkSize > MAX_PUT_BYTES) throw new UserError(`chunk size ${o.chunkSize} exceeds the ${MAX_PUT_BYTES}-byte call limit`);
  const calls = packPutCalls(chunks);
  let bytesSent = 0;
  let chunksSent = 0;
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < calls.length && !failed) {
      const call = calls[next++];
      const uploads = await Promise.all(call.map(async (r) => ({
        hash: r.file.chunks[r.index],
        data: await readChunk(r.file, o.chunkSize, r.index),
      })));
      try {
        await retry(() => canister.put_chunks(uploads));
      } catch (e) {
        // The other workers stop at their next call.
        failed = true;
        throw e;
      }
      bytesSent += uploads.reduce((n, u) => n + u.data.length, 0);
      chunksSent += uploads.length;
      sent(bytesSent, chunksSent);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, calls.length)) }, worker));
  return bytesSent;
}

/** create_release's argument for the hashed files. */
function newRelease(files: HashedFile[], o: UploadOptions): NewRelease {
  return { label: o.label, chunk_size: o.chunkSize, files: files.map((f) => ({ path: f.path, size: BigInt(f.size), sha256: f.sha256, chunks: f.chunks })) };
}

/** Creates the release from the hashed files and, if asked, publishes it. */
async function createRelease(canister: IcbootService, files: HashedFile[], o: UploadOptions): Promise<{ releaseId: bigint; published: boolean }> {
  // Not retried: a reply lost after the release was created would create it twice.
  const releaseId = await canister.create_release(newRelease(files, o));
  if (o.publish) await retry(() => canister.publish(releaseId));
  return { releaseId, published: o.publish };
}

/** The current release's manifest (unverified: used only to skip needless work). */
async function currentRelease(canister: IcbootService): Promise<Manifest | null> {
  const { index } = await retry(() => canister.index_certified());
  const current = decodeIndex(index).current;
  if (current === null) return null;
  const [bytes] = await retry(() => canister.manifest(BigInt(current)));
  return bytes ? decodeManifest(bytes) : null;
}

function sameTree(m: Manifest, files: HashedFile[], chunkSize: number): boolean {
  return m.chunk_size === chunkSize && m.files.length === files.length && files.every((f, i) => {
    const e = m.files[i];
    return e.path === f.path && e.size === f.size && e.sha256 === hex(f.sha256) && e.chunks.join() === f.chunks.map(hex).join();
  });
}

/** What create_release's argument may use of the 2 MiB ingress limit. */
const MAX_RELEASE_ARG_BYTES = 1_900_000;

/** The canister's limits, checked before anything is hashed or sent. */
function checkLimits(tree: TreeFile[], o: UploadOptions): void {
  const label = utf8Length(o.label);
  if (label > MAX_LABEL_BYTES) throw new UserError(`label is ${label} bytes; at most ${MAX_LABEL_BYTES} (use --label)`);
  if (tree.length > MAX_FILES) throw new UserError(`the tree has ${tree.length} files; a release holds at most ${MAX_FILES}`);
  const chunks = tree.reduce((n, f) => n + chunkCount(f.size, o.chunkSize), 0);
  if (chunks > MAX_CHUNKS_PER_RELEASE) {
    throw new UserError(`the tree needs ${chunks} chunks of ${o.chunkSize} bytes; a release names at most ${MAX_CHUNKS_PER_RELEASE} (raise --chunk-size)`);
  }
  const arg = tree.reduce((n, f) => n + utf8Length(f.path) + 64 + 36 * chunkCount(f.size, o.chunkSize), 0);
  if (arg > MAX_RELEASE_ARG_BYTES) throw new UserError(`the release description would be ${arg} bytes, over the ${MAX_RELEASE_ARG_BYTES}-byte call limit`);
  // Hashes are not known yet, but each is as long in the manifest as any other.
  const manifest = manifestBytes({
    label: o.label, chunk_size: o.chunkSize,
    files: tree.map((f) => ({ path: f.path, size: BigInt(f.size), sha256: NO_HASH, chunks: Array(chunkCount(f.size, o.chunkSize)).fill(NO_HASH) })),
  });
  if (manifest > MAX_MANIFEST_BYTES) {
    throw new UserError(`the release's manifest would be ${manifest} bytes; a release's manifest is at most ${MAX_MANIFEST_BYTES} (raise --chunk-size or upload fewer files)`);
  }
}

const NO_HASH = new Uint8Array(32);

/** Repeats a call that failed for a transient reason, with the shared backoff. */
function retry<T>(call: () => Promise<T>): Promise<T> {
  return retryWith(call, { attempts: ATTEMPTS });
}

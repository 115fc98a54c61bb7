// `icboot upload DIR`: walk → hash (streaming) → ask which chunks the canister
// lacks → send only those, several calls in flight → create the release →
// publish it. Running it again after an interruption sends only what is still
// missing, because chunks already stored are never asked for.
import { UserError } from '../client/errors.ts';
import { retry as retryWith } from '../client/retry.ts';
import type { FileEntry, IcbootService } from '../common/icboot_idl.ts';
import {
  MAX_CHUNKS_PER_RELEASE, MAX_FILES, MAX_LABEL_BYTES, MAX_PUT_BYTES, MAX_QUERY_HASHES,
} from '../common/limits.ts';
import { chunkCount, chunkLength } from '../common/chunks.ts';
import { decodeIndex, decodeManifest, type Manifest } from '../common/manifest.ts';
import { hashFile, readChunk, type HashedFile } from './chunker.ts';
import { walkTree, type TreeFile } from './walk.ts';

export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
export const DEFAULT_CONCURRENCY = 4;
/** Attempts per call: a transient failure is retried with the shared backoff. */
const ATTEMPTS = 6;

export interface UploadOptions {
  label: string;
  chunkSize: number;
  concurrency: number;
  dryRun: boolean;
  publish: boolean;
  /** Create no release when the current one already holds exactly this tree. */
  skipIfCurrent?: boolean;
}

export type UploadPhase = 'hashing' | 'checking' | 'sending' | 'publishing';

export interface Progress {
  phase: UploadPhase;
  done: number;
  total: number;
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
  /** The current release already held this tree; nothing was created. */
  unchanged?: boolean;
}

interface ChunkRef {
  file: HashedFile;
  index: number;
  size: number;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export async function upload(
  canister: IcbootService,
  dir: string,
  o: UploadOptions,
  progress: (p: Progress) => void = () => {},
): Promise<UploadReport> {
  const started = performance.now();
  const tree = walkTree(dir);
  checkLimits(tree, o);
  // An empty put checks write access before minutes of hashing and sending.
  if (!o.dryRun) await retry(() => canister.put_chunks([]));
  const totalBytes = tree.reduce((n, f) => n + f.size, 0);
  const files: HashedFile[] = [];
  let hashed = 0;
  for (const f of tree) {
    files.push(await hashFile(f, o.chunkSize));
    hashed += f.size;
    progress({ phase: 'hashing', done: hashed, total: totalBytes });
  }

  // First occurrence of each distinct chunk: identical chunks are sent once.
  const refs = new Map<string, ChunkRef>();
  for (const file of files) {
    file.chunks.forEach((hash, index) => {
      const key = hex(hash);
      if (!refs.has(key)) refs.set(key, { file, index, size: chunkLength(file.size, o.chunkSize, index) });
    });
  }
  const all = [...refs.keys()];
  const missing: string[] = [];
  for (let i = 0; i < all.length; i += MAX_QUERY_HASHES) {
    const batch = all.slice(i, i + MAX_QUERY_HASHES).map((h) => Buffer.from(h, 'hex'));
    for (const h of await retry(() => canister.missing_chunks(batch))) missing.push(hex(h));
    progress({ phase: 'checking', done: Math.min(i + MAX_QUERY_HASHES, all.length), total: all.length });
  }
  const report: UploadReport = {
    files: files.length,
    bytes: totalBytes,
    chunks: all.length,
    newChunks: missing.length,
    reusedChunks: all.length - missing.length,
    bytesSent: 0,
    seconds: 0,
    releaseId: null,
    published: false,
  };
  if (o.dryRun) {
    report.seconds = (performance.now() - started) / 1000;
    return { ...report, bytesSent: missing.reduce((n, h) => n + refs.get(h)!.size, 0) };
  }

  if (o.skipIfCurrent && missing.length === 0) {
    const current = await currentRelease(canister);
    if (current && sameTree(current, files, o.chunkSize)) {
      report.seconds = (performance.now() - started) / 1000;
      return { ...report, releaseId: BigInt(current.id), published: true, unchanged: true };
    }
  }

  const calls = packCalls(missing.map((h) => refs.get(h)!), o.chunkSize);
  const sendTotal = missing.reduce((n, h) => n + refs.get(h)!.size, 0);
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
      report.bytesSent += uploads.reduce((n, u) => n + u.data.length, 0);
      progress({ phase: 'sending', done: report.bytesSent, total: sendTotal });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, calls.length)) }, worker));

  progress({ phase: 'publishing', done: 0, total: 1 });
  const entries: FileEntry[] = files.map((f) => ({ path: f.path, size: BigInt(f.size), sha256: f.sha256, chunks: f.chunks }));
  // Not retried: a reply lost after the release was created would create it twice.
  report.releaseId = await canister.create_release({ label: o.label, chunk_size: o.chunkSize, files: entries });
  if (o.publish) {
    await retry(() => canister.publish(report.releaseId!));
    report.published = true;
  }
  progress({ phase: 'publishing', done: 1, total: 1 });
  report.seconds = (performance.now() - started) / 1000;
  return report;
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

/** Candid framing per chunk in a put_chunks call: the 32-byte hash and lengths. */
const PER_CHUNK_OVERHEAD = 48;
/** What create_release's argument may use of the 2 MiB ingress limit. */
const MAX_RELEASE_ARG_BYTES = 1_900_000;

/** The canister's limits, checked before anything is hashed or sent. */
function checkLimits(tree: TreeFile[], o: UploadOptions): void {
  const label = new TextEncoder().encode(o.label).length;
  if (label > MAX_LABEL_BYTES) throw new UserError(`label is ${label} bytes; at most ${MAX_LABEL_BYTES} (use --label)`);
  if (tree.length > MAX_FILES) throw new UserError(`the tree has ${tree.length} files; a release holds at most ${MAX_FILES}`);
  const chunks = tree.reduce((n, f) => n + chunkCount(f.size, o.chunkSize), 0);
  if (chunks > MAX_CHUNKS_PER_RELEASE) {
    throw new UserError(`the tree needs ${chunks} chunks of ${o.chunkSize} bytes; a release names at most ${MAX_CHUNKS_PER_RELEASE} (raise --chunk-size)`);
  }
  const arg = tree.reduce((n, f) => n + new TextEncoder().encode(f.path).length + 64 + 36 * chunkCount(f.size, o.chunkSize), 0);
  if (arg > MAX_RELEASE_ARG_BYTES) throw new UserError(`the release description would be ${arg} bytes, over the ${MAX_RELEASE_ARG_BYTES}-byte call limit`);
}

/** Groups chunks into put_chunks calls that stay under the per-call byte limit. */
function packCalls(chunks: ChunkRef[], chunkSize: number): ChunkRef[][] {
  if (chunkSize > MAX_PUT_BYTES) throw new UserError(`chunk size ${chunkSize} exceeds the ${MAX_PUT_BYTES}-byte call limit`);
  const calls: ChunkRef[][] = [];
  let current: ChunkRef[] = [];
  let bytes = 0;
  for (const c of chunks) {
    if (bytes + c.size + PER_CHUNK_OVERHEAD > MAX_PUT_BYTES && current.length > 0) {
      calls.push(current);
      current = [];
      bytes = 0;
    }
    current.push(c);
    bytes += c.size + PER_CHUNK_OVERHEAD;
  }
  if (current.length > 0) calls.push(current);
  return calls;
}

/** Repeats a call that failed for a transient reason, with the shared backoff. */
function retry<T>(call: () => Promise<T>): Promise<T> {
  return retryWith(call, { attempts: ATTEMPTS });
}

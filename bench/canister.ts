// `npm run bench` (canister part): the icboot canister's instructions per
// method against the size of its input, on a devnet that meters as a replica
// does, with each message's share of its limit. The counts come from the
// devnet's `--log-instructions` lines; a message over its limit is a finding
// ("over the limit"), not a failure of the bench. Where the cost grows with
// the input, a least-squares fit (a line, or a power law where the cost grows
// faster than the input) gives the cost at the input limit of common/limits.ts.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { buildAzleCanister } from '../canister/build.ts';
import { icbootCanister, type Connection } from '../client/canister.ts';
import { PROJECT_DIR } from '../canister/icboot_module.ts';
import { managementCanister } from '../client/management.ts';
import type { ChunkUpload, FileEntry, IcbootService, NewRelease } from '../common/icboot_idl.ts';
import {
  MAX_CHUNKS_PER_RELEASE, MAX_CHUNK_BYTES, MAX_FILES, MAX_GC_BATCH, MAX_LABEL_BYTES, MAX_MANIFEST_BYTES, MAX_PUT_BYTES,
  MAX_QUERY_HASHES, MAX_RELEASES, MIN_CHUNK_SIZE,
} from '../common/limits.ts';
import { REPLICA_LIMITS } from '../devnet/limits.ts';
import { manifestBytes } from '../uploader/cost.ts';
import { deployWithCli } from '../lab/cli.ts';
import { startDevnetProcess } from '../lab/devnet.ts';
import { PollTimeout, until } from '../lab/poll.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
/** Concurrent put_chunks calls while filling the canister, as `icboot upload` sends them. */
const IN_FLIGHT = 4;
/** Stored for post_upgrade: 1 GiB in chunks of the largest size. */
const BULK_CHUNKS = Math.ceil((1024 * MiB) / MAX_CHUNK_BYTES);
/** Small chunks per put_chunks call, as many as MAX_PUT_BYTES takes. */
const SMALL_PER_CALL = Math.floor(MAX_PUT_BYTES / MIN_CHUNK_SIZE);
/** Chunks per file in the releases of many chunks. */
const CHUNKS_PER_FILE = 100;
/** A power-law exponent from which a fit counts as growing faster than its input. */
const SUPERLINEAR = 1.1;
/** A long execution blocks the devnet for as long; nothing here may time out before it ends. */
const WAIT_MS = 15 * 60_000;

type Kind = 'query' | 'update' | 'install';

/** Inputs at a fifth, half and all of an input limit, so the last point is measured, not extrapolated. */
const upTo = (limit: number): number[] => [Math.round(limit / 5), Math.round(limit / 2), limit];
const LIMIT: Record<Kind, number> = {
  query: Number(REPLICA_LIMITS.query), update: Number(REPLICA_LIMITS.update), install: Number(REPLICA_LIMITS.install),
};

interface Measured {
  kind: Kind;
  instructions: number;
  /** The reject code when the message failed: IC0522 is the instruction limit. */
  code?: string;
}

interface Row extends Measured {
  method: string;
  input: string;
}

const MESSAGE_LINE = /\b(query|update) (\w+): ([\d,]+) instructions, [\d,]+ cycles(?: \((IC\d+)\))?$/;
const INSTALL_LINE = /\b(?:install|upgrade|reinstall): ([\d,]+) instructions/;
const UPGRADE = 'upgrade (compile + post_upgrade)';
const count = (digits: string): number => Number(digits.replaceAll(',', ''));

const devnet = await startDevnetProcess(undefined, 0, ['--log-instructions']);
/** The deploying user's config home, removed at the end. */
let home: string | undefined;
const rows: Row[] = [];
const started = performance.now();

function progress(line: string): void {
  console.error(`[${((performance.now() - started) / 1000).toFixed(0)} s] ${line}`);
}

/** The devnet's log lines from index `from` on that match `re`, once one is there. */
function logged(from: number, re: RegExp, what: string): Promise<RegExpExecArray[]> {
  return until(() => {
    const found = devnet.logs.slice(from).map((l) => re.exec(l)).filter((m) => m !== null);
    return found.length > 0 ? found : undefined;
  }, what, WAIT_MS);
}

/** Runs one call to `method` and reads its count from the devnet's log; a failed call counts if the message ran. */
async function measure(method: string, input: string, call: () => Promise<unknown>): Promise<Row> {
  const from = devnet.logs.length;
  let failure: unknown;
  try {
    await call();
  } catch (e) {
    failure = e;
  }
  const line = new RegExp(MESSAGE_LINE.source.replace('(\\w+)', `(${method})`));
  let m: RegExpExecArray;
  try {
    [m] = await logged(from, line, `the devnet's line for ${method}`);
  } catch (e) {
    throw e instanceof PollTimeout && failure ? failure : e;
  }
  const row: Row = { method, input, kind: m[1] as Kind, instructions: count(m[3]), code: m[4] };
  rows.push(row);
  progress(`${method} ${input}: ${row.instructions.toLocaleString('en-US')}${row.code ? ` (${row.code})` : ''}`);
  return row;
}

/**
 * Upgrades to `module`, through the management canister as `icboot deploy`
 * does; the count is the whole install_code: compilation, start and post_upgrade.
 */
async function upgrade(c: Connection, id: Principal, module: Uint8Array, input: string): Promise<void> {
  const from = devnet.logs.length;
  try {
    await managementCanister(c, id).install_code({
      mode: { upgrade: [] }, canister_id: id, wasm_module: module, arg: new Uint8Array(IDL.encode([], [])), sender_canister_version: [],
    });
  } catch (e) {
    rows.push({ method: UPGRADE, input, kind: 'install', instructions: NaN, code: 'install failed' });
    progress(`upgrade ${input} failed: ${(e as Error).message.split('\n')[0]}`);
    return;
  }
  const [m] = await logged(from, INSTALL_LINE, "the devnet's line for the upgrade");
  rows.push({ method: UPGRADE, input, kind: 'install', instructions: count(m[1]) });
  progress(`upgrade ${input}: ${m[1]}`);
}

function chunk(bytes: number): ChunkUpload {
  const data = randomBytes(bytes);
  return { data, hash: createHash('sha256').update(data).digest() };
}

/** Runs `jobs` with at most IN_FLIGHT at a time. */
async function pooled(jobs: (() => Promise<unknown>)[]): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (next < jobs.length) await jobs[next++]();
  }));
}

/**
 * One release naming `hashes` (chunks of `chunkSize` bytes), `perFile` to a
 * file. The canister checks chunk sizes, not file hashes: those are random.
 */
function chunkRelease(label: string, hashes: Uint8Array[], chunkSize: number, perFile = CHUNKS_PER_FILE): NewRelease {
  const files: FileEntry[] = [];
  for (let i = 0; i < hashes.length; i += perFile) {
    const own = hashes.slice(i, i + perFile);
    files.push({
      path: `${label}/file-${String(i / perFile).padStart(6, '0')}.bin`, size: BigInt(own.length * chunkSize),
      sha256: randomBytes(32), chunks: own,
    });
  }
  return { label, chunk_size: chunkSize, files };
}

/** `n` empty files (which name no chunks) whose paths are `pathBytes` long, in directories of 255-byte names. */
function fileRelease(label: string, n: number, pathBytes: number): NewRelease {
  const empty = createHash('sha256').digest();
  const files: FileEntry[] = [];
  for (let i = 0; i < n; i++) {
    const name = `${label}-${String(i).padStart(6, '0')}`;
    const dirs: string[] = [];
    for (let left = pathBytes - name.length; left > 1; left -= Math.min(left, 256)) dirs.push('d'.repeat(Math.min(left, 256) - 1));
    files.push({ path: [...dirs, name].join('/'), size: 0n, sha256: empty, chunks: [] });
  }
  return { label, chunk_size: MIN_CHUNK_SIZE, files };
}

/** A curve through measured points: `at(x)` and how it reads. */
interface Curve {
  at(x: number): number;
  text: string;
  /** Of a power law. */
  exponent?: number;
}

/** Least-squares line through the points. */
function line(points: [number, number][]): Curve {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const slope = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  const base = my - slope * mx;
  return { at: (x) => base + slope * x, text: `${fmt(base)} + ${fmt(slope)} × x` };
}

/** Least-squares power law y = k·x^p (a line in log-log), for costs that grow faster than the input. */
function power(points: [number, number][]): Curve {
  const l = line(points.map(([x, y]) => [Math.log(x), Math.log(y)]));
  const p = l.at(1) - l.at(0);
  const k = Math.exp(l.at(0));
  return { at: (x) => k * x ** p, text: `${fmt(k)} × x^${p.toFixed(2)}`, exponent: p };
}

/** A power law where the points grow clearly faster than linearly (a line would understate the cost at the limit), else a line. */
function fitted(points: [number, number][]): Curve {
  const p = power(points);
  return p.exponent! >= SUPERLINEAR ? p : line(points);
}

const fmt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const pct = (n: number, kind: Kind): string => `${((100 * n) / LIMIT[kind]).toFixed(n < LIMIT[kind] / 1000 ? 3 : 1)}%`;

/** A measured input on a line: `x` in the unit of its fit. */
interface Point {
  method: string;
  series: string;
  x: number;
  instructions: number;
}
const points: Point[] = [];

/** Records `row` as a point of `series` unless it failed (a failed message's count is no point on the line). */
function plot(row: Row, series: string, x: number): void {
  if (!row.code) points.push({ method: row.method, series, x, instructions: row.instructions });
}

/** A release create_release took, to be deleted later on the same series. */
interface Made {
  id: bigint;
  series: string;
  x: number;
  input: string;
}

/** create_release of `r`, plotted on `series` at `x`; the release, or null if the message failed. */
async function create(r: NewRelease, series: string, x: number, input: string): Promise<Made | null> {
  const label = `${input}, manifest ${(manifestBytes(r) / 1e6).toFixed(2)} MB`;
  let id: bigint | undefined;
  plot(await measure('create_release', label, async () => {
    id = await canister.create_release(r);
  }), series, x);
  return id === undefined ? null : { id, series, x, input: label };
}

const size = (bytes: number): string => (bytes >= MiB ? `${(bytes / MiB).toFixed(2)} MiB` : `${(bytes / KiB).toFixed(0)} KiB`);
let canister: IcbootService;

try {
  // One module for the whole run: sources edited meanwhile must not change what an upgrade installs.
  const { wasm } = await buildAzleCanister(PROJECT_DIR, 'icboot');
  const raw = readFileSync(wasm);
  const module = new Uint8Array(gzipSync(raw, { level: 9 }));
  const { env, canisterId, owner } = await deployWithCli(devnet.url, WAIT_MS);
  home = env.cwd;
  canister = icbootCanister(owner, canisterId);
  const moduleHash = createHash('sha256').update(raw).digest('hex');
  progress(`deployed ${canisterId.toText()} on ${devnet.url}; upgrading to the module measured, sha256 ${moduleHash}`);

  await upgrade(owner, canisterId, module, '~0 bytes stored');
  await measure('status', 'empty canister', () => canister.status());
  await measure('index_certified', 'no releases', () => canister.index_certified());

  // put_chunks and get_chunk against the size of one chunk, then put_chunks
  // against the number of chunks that share one call's bytes.
  const sized = new Map<number, ChunkUpload>();
  for (const bytes of [64 * KiB, 256 * KiB, MiB, MAX_CHUNK_BYTES]) {
    const c = chunk(bytes);
    sized.set(bytes, c);
    const row = await measure('put_chunks', `1 chunk of ${size(bytes)}`, () => canister.put_chunks([c]));
    plot(row, 'one chunk', bytes / MiB);
    if (bytes === MAX_CHUNK_BYTES) plot(row, 'chunks per full call', 1);
  }
  const eight = Array.from({ length: 8 }, () => chunk(64 * KiB));
  await measure('put_chunks', '8 chunks of 64 KiB', () => canister.put_chunks(eight));
  for (const n of [2, 8, 32]) {
    const each = Math.floor(MAX_PUT_BYTES / n);
    const batch = Array.from({ length: n }, () => chunk(each));
    plot(await measure('put_chunks', `${n} chunks of ${size(each)}`, () => canister.put_chunks(batch)), 'chunks per full call', n);
  }
  for (const bytes of [64 * KiB, MiB, MAX_CHUNK_BYTES]) {
    plot(await measure('get_chunk', size(bytes), () => canister.get_chunk(sized.get(bytes)!.hash)), 'one chunk', bytes / MiB);
  }

  // Small chunks for the releases: disjoint sets, so each delete frees its own.
  const chunkSeries = upTo(MAX_CHUNKS_PER_RELEASE);
  const small = Array.from({ length: chunkSeries.reduce((a, b) => a + b) }, () => chunk(MIN_CHUNK_SIZE));
  const batches: ChunkUpload[][] = [];
  for (let i = 0; i < small.length; i += SMALL_PER_CALL) batches.push(small.slice(i, i + SMALL_PER_CALL));
  plot(await measure('put_chunks', `${batches[0].length} chunks of 4 KiB`, () => canister.put_chunks(batches[0])), 'chunks per full call', batches[0].length);
  let t = performance.now();
  await pooled(batches.slice(1).map((b) => () => canister.put_chunks(b)));
  progress(`stored ${small.length} chunks of 4 KiB in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  // missing_chunks: all missing, and all present.
  for (const n of upTo(MAX_QUERY_HASHES)) {
    const hashes = Array.from({ length: n }, () => randomBytes(32));
    plot(await measure('missing_chunks', `${n} hashes, all missing`, () => canister.missing_chunks(hashes)), 'all missing', n / 1000);
  }
  for (const n of upTo(MAX_QUERY_HASHES)) {
    plot(await measure('missing_chunks', `${n} hashes, all present`, () => canister.missing_chunks(small.slice(0, n).map((c) => c.hash))), 'all present', n / 1000);
  }

  // create_release against chunks named, files listed and path bytes.
  const releases: Made[] = [];
  const keep = (m: Made | null): void => void (m && releases.push(m));
  let offset = 0;
  for (const n of chunkSeries) {
    const r = chunkRelease(`c${n}`, small.slice(offset, offset + n).map((c) => c.hash), MIN_CHUNK_SIZE);
    offset += n;
    keep(await create(r, 'chunks', n / 1000, `${n} chunks in ${r.files.length} files`));
  }
  for (const n of upTo(MAX_FILES)) {
    keep(await create(fileRelease(`f${n}`, n, 40), 'empty files, 40-byte paths', n / 1000, `${n} empty files, 40-byte paths`));
  }
  // About 1,050 manifest bytes per file of a 900-byte path: the last one comes near the manifest limit.
  for (const n of upTo(Math.floor(MAX_MANIFEST_BYTES / 1_050))) {
    const r = fileRelease(`p${n}`, n, 900);
    keep(await create(r, 'empty files, 900-byte paths', manifestBytes(r) / 1e6, `${n} empty files, 900-byte paths`));
  }
  for (const m of releases) await measure('manifest', m.input, () => canister.manifest(m.id));

  const current = releases.find((m) => m.series.startsWith('empty'))!;
  await measure('publish', `${releases.length} releases in the index`, () => canister.publish(current.id));
  await measure('status', `${releases.length} releases`, () => canister.status());
  await measure('index_certified', `${releases.length} releases`, () => canister.index_certified());

  // 1 GiB of the largest chunks, named by one release, then an upgrade.
  const from = devnet.logs.length;
  t = performance.now();
  const bulk: Uint8Array[] = [];
  await pooled(Array.from({ length: BULK_CHUNKS }, () => async () => {
    const c = chunk(MAX_CHUNK_BYTES);
    bulk.push(c.hash);
    await canister.put_chunks([c]);
  }));
  const bulkSeconds = (performance.now() - t) / 1000;
  const bulkCounts = devnet.logs.slice(from).map((l) => MESSAGE_LINE.exec(l)).filter((m) => m?.[2] === 'put_chunks').map((m) => count(m![3])).sort((a, b) => a - b);
  const stored = (BULK_CHUNKS * MAX_CHUNK_BYTES) / MiB;
  progress(`stored ${stored.toFixed(0)} MiB in ${bulkSeconds.toFixed(1)} s (${(stored / bulkSeconds).toFixed(1)} MiB/s, ${IN_FLIGHT} calls in flight); put_chunks of 1.9 MB: min ${fmt(bulkCounts[0])}, median ${fmt(bulkCounts[bulkCounts.length >> 1])}, max ${fmt(bulkCounts[bulkCounts.length - 1])}`);
  const bulkRelease = await create(chunkRelease('bulk', bulk, MAX_CHUNK_BYTES, bulk.length), 'chunks of 1.9 MB', bulk.length / 1000, `${bulk.length} chunks of 1.9 MB in 1 file`);
  if (bulkRelease) await measure('publish', `${releases.length + 1} releases in the index`, () => canister.publish(bulkRelease.id));
  await upgrade(owner, canisterId, module, `${(stored / 1024).toFixed(2)} GiB stored`);
  await measure('status', `${(stored / 1024).toFixed(2)} GiB stored`, () => canister.status());

  // Deletes, and gc of what they leave: the large chunks first, alone in the garbage.
  await canister.publish(current.id);
  if (bulkRelease) {
    await measure('delete_release', bulkRelease.input, () => canister.delete_release(bulkRelease.id));
    await measure('gc', `${MAX_GC_BATCH} chunks of 1.9 MB`, () => canister.gc(MAX_GC_BATCH));
    while ((await canister.gc(MAX_GC_BATCH)).deleted > 0);
  }
  for (const m of releases.filter((r) => r !== current)) {
    plot(await measure('delete_release', m.input, () => canister.delete_release(m.id)), m.series, m.x);
  }
  plot(await measure('gc', `${MAX_GC_BATCH} chunks of 4 KiB`, () => canister.gc(MAX_GC_BATCH)), 'chunks of 4 KiB', MAX_GC_BATCH);
  plot(await measure('gc', '50 chunks of 4 KiB', () => canister.gc(50)), 'chunks of 4 KiB', 50);

  // publish against the size of the index, which every update that adds, publishes or deletes a release decodes.
  let inIndex = (await canister.status()).releases;
  let indexBytes = 0;
  // Labels as long as allowed, in a character the index writes as 6 bytes (\u00e9) for every 2: the largest index.
  const longest = 'é'.repeat(MAX_LABEL_BYTES / 2);
  for (const target of [MAX_RELEASES / 4, MAX_RELEASES / 2, MAX_RELEASES]) {
    while (inIndex < target) {
      await canister.create_release({ label: longest, chunk_size: MIN_CHUNK_SIZE, files: [] });
      inIndex++;
    }
    indexBytes = (await canister.index_certified()).index.length;
    plot(await measure('publish', `${inIndex} releases, index ${(indexBytes / 1e3).toFixed(0)} kB`, () => canister.publish(current.id)), 'index', indexBytes / 1e3);
  }
  const fullIndex = (indexBytes / inIndex) * MAX_RELEASES;

  console.log(`Instructions per icboot canister method on the metered devnet (limits: query 5 B, update 40 B, install 300 B); canister wasm sha256 ${moduleHash}`);
  console.log('| method | input | instructions | % of its limit |\n|---|---|---|---|');
  for (const r of rows) {
    const over = r.code === 'IC0522';
    const failed = r.code && !over ? ` (failed: ${r.code})` : '';
    console.log(`| ${r.method} | ${r.input} | ${over ? 'over the limit (IC0522)' : fmt(r.instructions) + failed} | ${over ? '> 100%' : pct(r.instructions, r.kind)} |`);
  }

  const lines: { method: string; series: string; unit: string; limitX: number; limitInput: string; kind: Kind }[] = [
    { method: 'put_chunks', series: 'one chunk', unit: 'MiB', limitX: MAX_CHUNK_BYTES / MiB, limitInput: `1 chunk of ${MAX_CHUNK_BYTES} bytes`, kind: 'update' },
    { method: 'put_chunks', series: 'chunks per full call', unit: 'chunk (≈1.95 MB per call)', limitX: SMALL_PER_CALL, limitInput: `${SMALL_PER_CALL} chunks of ${MIN_CHUNK_SIZE} bytes`, kind: 'update' },
    { method: 'get_chunk', series: 'one chunk', unit: 'MiB', limitX: MAX_CHUNK_BYTES / MiB, limitInput: `${MAX_CHUNK_BYTES} bytes`, kind: 'query' },
    { method: 'missing_chunks', series: 'all missing', unit: '1,000 hashes, all missing', limitX: MAX_QUERY_HASHES / 1000, limitInput: `${MAX_QUERY_HASHES} hashes`, kind: 'query' },
    { method: 'missing_chunks', series: 'all present', unit: '1,000 hashes, all present', limitX: MAX_QUERY_HASHES / 1000, limitInput: `${MAX_QUERY_HASHES} hashes`, kind: 'query' },
    { method: 'create_release', series: 'chunks', unit: '1,000 chunks (4 KiB, 100 per file)', limitX: MAX_CHUNKS_PER_RELEASE / 1000, limitInput: `${MAX_CHUNKS_PER_RELEASE} chunks`, kind: 'update' },
    { method: 'create_release', series: 'empty files, 40-byte paths', unit: '1,000 empty files', limitX: MAX_FILES / 1000, limitInput: `${MAX_FILES} files`, kind: 'update' },
    { method: 'create_release', series: 'empty files, 900-byte paths', unit: 'MB of manifest (900-byte paths)', limitX: MAX_MANIFEST_BYTES / 1e6, limitInput: `${MAX_MANIFEST_BYTES}-byte manifest`, kind: 'update' },
    { method: 'delete_release', series: 'chunks', unit: '1,000 chunks (4 KiB, 100 per file)', limitX: MAX_CHUNKS_PER_RELEASE / 1000, limitInput: `${MAX_CHUNKS_PER_RELEASE} chunks`, kind: 'update' },
    { method: 'delete_release', series: 'empty files, 40-byte paths', unit: '1,000 empty files', limitX: MAX_FILES / 1000, limitInput: `${MAX_FILES} files`, kind: 'update' },
    { method: 'delete_release', series: 'empty files, 900-byte paths', unit: 'MB of manifest (900-byte paths)', limitX: MAX_MANIFEST_BYTES / 1e6, limitInput: `${MAX_MANIFEST_BYTES}-byte manifest`, kind: 'update' },
    { method: 'publish', series: 'index', unit: 'kB of index', limitX: fullIndex / 1e3, limitInput: `${MAX_RELEASES} releases (index ≈ ${(fullIndex / 1e3).toFixed(0)} kB)`, kind: 'update' },
    { method: 'gc', series: 'chunks of 4 KiB', unit: 'chunk', limitX: MAX_GC_BATCH, limitInput: `${MAX_GC_BATCH} chunks`, kind: 'update' },
  ];
  console.log(`\nFits (least squares over the points under the limit; x in the unit named; a power law where it grows as x^${SUPERLINEAR} or faster) and the curve at the input limit`);
  console.log('| method | x | points | fit | at the limit | % of its limit |\n|---|---|---|---|---|---|');
  for (const l of lines) {
    const on: [number, number][] = points.filter((p) => p.method === l.method && p.series === l.series).map((p) => [p.x, p.instructions]);
    if (on.length < 2) {
      console.log(`| ${l.method} | ${l.unit} | ${on.length} | – | ${l.limitInput} | too few points |`);
      continue;
    }
    const c = fitted(on);
    const at = c.at(l.limitX);
    console.log(`| ${l.method} | ${l.unit} | ${on.length} | ${c.text} | ${l.limitInput}: ${fmt(at)} | ${pct(at, l.kind)} |`);
  }
  console.log(`\n1 GiB for post_upgrade: ${BULK_CHUNKS} put_chunks of ${MAX_CHUNK_BYTES} bytes, ${IN_FLIGHT} in flight, in ${bulkSeconds.toFixed(1)} s; total bench ${((performance.now() - started) / 1000).toFixed(0)} s`);
} finally {
  await devnet.stop();
  rmSync(devnet.stateDir, { recursive: true, force: true });
  if (home) rmSync(home, { recursive: true, force: true });
}

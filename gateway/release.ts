// The release the gateway serves: fetched with its certificate and verified
// at start and every poll; pinned (--release N) or following the current one.
// Each snapshot is immutable, so transfers in flight finish on the release they
// started with. With a cache directory the release is saved with everything
// its verification rests on (certificate, index, manifest), and verified again
// whenever it is loaded, to be served while the canister cannot be reached.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Principal } from '@dfinity/principal';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils';
import type { Manifest, ManifestFile } from '../common/manifest.ts';
import { IntegrityError } from '../client/errors.ts';
import { writeAtomic } from '../common/write_atomic.ts';
import { withDeadline } from '../client/retry.ts';
import { verifyIndex, verifyManifest, type CertifiedIndex, type VerifiedReader } from '../client/verify.ts';

/** The canister queries a release is read through, as the activity record and metrics count them. */
export type QueryKind = 'chunk' | 'index' | 'manifest';

export interface Snapshot {
  manifest: Manifest;
  files: Map<string, ManifestFile>;
  /** Where it came from: the canister now, or the saved copy of an earlier verification. */
  origin: 'canister' | 'disk';
  /** When the IC signed the certificate it was verified with, ms since the epoch. */
  certifiedAt: number;
}

/** What a saved release is verified against when the canister cannot be asked. */
export interface Trust {
  canisterId: Principal;
  /**
   * The IC root key (DER). Mainnet's is built in; null for networks that
   * publish their own, whose key is then the one saved beside the release.
   */
  rootKey: Uint8Array | null;
}

export interface ReleaseOptions {
  /** The canister, verified; rejects while it cannot be reached. */
  reader: () => Promise<VerifiedReader>;
  trust: Trust;
  /** A release id, or null to follow the current release. */
  pin: number | null;
  pollSeconds: number;
  /** Bound on one refresh (index and manifest), so a stalled canister fails like an unreachable one. */
  fetchTimeoutMs: number;
  cacheDir?: string;
  log: (line: string) => void;
  /** Told of every release loaded from the canister (e.g. to warm the cache). */
  onChange?: (s: Snapshot) => void;
  /** Runs each query to the canister (to time and count it); by default just runs it. */
  query?: <T>(kind: QueryKind, work: () => Promise<T>) => Promise<T>;
  /** Told when each index certificate verified was signed, ms since the epoch, whether or not the release changed. */
  verified?: (certifiedAt: number) => void;
  /** Told of each failure to reach the canister or load the release, as the line logged (the status page's recent errors). */
  failed?: (text: string) => void;
  /** Told of each certificate, index, manifest or saved release that failed verification, as the line logged. */
  integrityFailed?: (text: string) => void;
}

/** The saved release: bytes as base64, keys and ids as text. */
interface SavedRelease {
  format: typeof SAVED_FORMAT;
  canister: string;
  root_key: string;
  certificate: string;
  index: string;
  release: number;
  manifest: string;
}

const SAVED_FORMAT = 'icboot-saved-release/1';
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const unb64 = (s: unknown, what: string): Uint8Array => {
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new IntegrityError(`${what} is not base64`);
  return new Uint8Array(Buffer.from(s, 'base64'));
};

function snapshot(manifest: Manifest, origin: Snapshot['origin'], certifiedAt: number): Snapshot {
  return { manifest, files: new Map(manifest.files.map((f) => [f.path, f])), origin, certifiedAt };
}

/** "3.2 h", "41 s": how old a certificate is. */
function age(ms: number): string {
  const s = ms / 1000;
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  if (s < 172_800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86_400).toFixed(1)} days`;
}

export class ReleaseTracker {
  private current: Snapshot | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private refreshing: Promise<void> | null = null;

  constructor(private readonly o: ReleaseOptions) {}

  get snapshot(): Snapshot | null {
    return this.current;
  }

  private get savedPath(): string | null {
    return this.o.cacheDir ? join(this.o.cacheDir, 'release.json') : null;
  }

  /** Loads the release; falls back to the saved copy, verified again, when the canister cannot be reached. */
  async start(): Promise<Snapshot> {
    try {
      await this.refresh();
    } catch (e) {
      if (e instanceof IntegrityError) {
        this.o.integrityFailed?.(`release: ${e.message}`);
        throw e;
      }
      const saved = await this.loadSaved();
      if (!saved) throw e;
      this.current = saved;
      this.o.log(`release: canister unreachable (${(e as Error).message}); serving release ${saved.manifest.id} saved by an earlier run, `
        + `verified again against its certificate, which is ${age(Date.now() - saved.certifiedAt)} old `
        + '(accepted offline; online certificates must be under 5 minutes old)');
      this.o.failed?.(`release: canister unreachable (${(e as Error).message}); serving release ${saved.manifest.id} saved by an earlier run`);
    }
    this.schedule();
    return this.current!;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Fetches and verifies the index and the wanted manifest; swaps the snapshot if it changed. One at a time. */
  refresh(): Promise<void> {
    this.refreshing ??= withDeadline(this.fetch(), this.o.fetchTimeoutMs, 'release index').finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async fetch(): Promise<void> {
    const reader = await this.o.reader();
    const query = this.o.query ?? ((_, work) => work());
    const certified = await query('index', () => reader.index());
    this.o.verified?.(certified.certifiedAt);
    const wanted = this.o.pin ?? certified.index.current;
    if (wanted === null) throw new Error('no release is published yet');
    if (this.current?.origin === 'canister' && this.current.manifest.id === wanted) return;
    const { manifest, bytes } = await query('manifest', () => reader.release(certified, wanted));
    const previous = this.current?.manifest.id;
    this.current = snapshot(manifest, 'canister', certified.certifiedAt);
    this.save(certified, wanted, bytes);
    this.o.log(previous === undefined ? `release: serving release ${wanted}` : `release: now serving release ${wanted} (was ${previous})`);
    this.o.onChange?.(this.current);
  }

  private save(certified: CertifiedIndex, id: number, manifest: Uint8Array): void {
    const path = this.savedPath;
    if (!path) return;
    const { evidence } = certified;
    const saved: SavedRelease = {
      format: SAVED_FORMAT,
      canister: this.o.trust.canisterId.toText(),
      root_key: bytesToHex(evidence.rootKey),
      certificate: b64(evidence.certificate),
      index: b64(evidence.index),
      release: id,
      manifest: b64(manifest),
    };
    try {
      writeAtomic(path, JSON.stringify(saved) + '\n');
    } catch (e) {
      this.o.log(`release: cannot save ${path}: ${(e as Error).message}`);
    }
  }

  /** The saved release if it verifies and is the one wanted; one that does not verify is removed. */
  private async loadSaved(): Promise<Snapshot | null> {
    const path = this.savedPath;
    if (!path || !existsSync(path)) return null;
    try {
      let saved: Partial<SavedRelease>;
      try {
        saved = JSON.parse(readFileSync(path, 'utf8')) as Partial<SavedRelease>;
      } catch (e) {
        throw new IntegrityError(`not a saved release (${(e as Error).message})`);
      }
      if (saved?.format !== SAVED_FORMAT) throw new IntegrityError('not a saved release of this icboot version');
      const { canisterId, rootKey } = this.o.trust;
      if (saved.canister !== canisterId.toText()) throw new IntegrityError(`saved for canister ${saved.canister}, not ${canisterId.toText()}`);
      if (typeof saved.root_key !== 'string' || !/^([0-9a-f]{2})+$/.test(saved.root_key)) throw new IntegrityError('root key is not hex');
      if (!Number.isSafeInteger(saved.release)) throw new IntegrityError('release id is missing');
      const certified = await verifyIndex({
        index: unb64(saved.index, 'index'),
        certificate: unb64(saved.certificate, 'certificate'),
        rootKey: rootKey ?? hexToBytes(saved.root_key),
      }, canisterId, true);
      const manifest = verifyManifest(certified, saved.release!, unb64(saved.manifest, 'manifest'));
      if (this.o.pin !== null && manifest.id !== this.o.pin) {
        this.o.log(`release: the saved release is ${manifest.id}, not the pinned release ${this.o.pin}; not using it`);
        return null;
      }
      return snapshot(manifest, 'disk', certified.certifiedAt);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      const text = `saved release ${path} failed verification (${why})`;
      this.o.integrityFailed?.(text);
      // Recursive: a directory in its place would block every later save.
      try {
        rmSync(path, { force: true, recursive: true });
        this.o.log(`integrity: ${text}; discarded`);
      } catch (rm) {
        this.o.log(`integrity: ${text}; cannot remove it: ${(rm as Error).message}`);
      }
      return null;
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.refresh()
        .catch((e: Error) => {
          const text = `release: poll failed, still serving release ${this.current?.manifest.id}: ${e.message}`;
          this.o.log(text);
          if (e instanceof IntegrityError) this.o.integrityFailed?.(text);
          else this.o.failed?.(text);
        })
        .finally(() => this.schedule());
    }, this.o.pollSeconds * 1000);
    this.timer.unref();
  }
}

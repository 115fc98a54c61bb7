// The release the gateway serves: fetched with its certificate and verified
// at start and every poll; pinned (--release N) or following the current one.
// Each snapshot is immutable, so transfers in flight finish on the release they
// started with. With a cache directory the last verified manifest is kept on
// disk and served when the canister cannot be reached, even after a restart.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeManifest, encodeJson, type Manifest, type ManifestFile } from '../canister/src/manifest.ts';
import { writeAtomic } from '../client/files.ts';
import { IntegrityError, type VerifiedReader } from '../client/verify.ts';

export interface Snapshot {
  manifest: Manifest;
  files: Map<string, ManifestFile>;
  /** Where it came from: the canister now, or the disk copy of an earlier verification. */
  origin: 'canister' | 'disk';
}

export interface ReleaseOptions {
  /** The canister, verified; rejects while it cannot be reached. */
  reader: () => Promise<VerifiedReader>;
  /** A release id, or null to follow the current release. */
  pin: number | null;
  pollSeconds: number;
  cacheDir?: string;
  log: (line: string) => void;
  /** Told of every release loaded from the canister (e.g. to warm the cache). */
  onChange?: (s: Snapshot) => void;
}

function snapshot(manifest: Manifest, origin: Snapshot['origin']): Snapshot {
  return { manifest, files: new Map(manifest.files.map((f) => [f.path, f])), origin };
}

export class ReleaseTracker {
  private current: Snapshot | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly o: ReleaseOptions) {}

  get snapshot(): Snapshot | null {
    return this.current;
  }

  private get diskPath(): string | null {
    return this.o.cacheDir ? join(this.o.cacheDir, 'release.json') : null;
  }

  /** Loads the release; falls back to the disk copy when the canister cannot be reached. */
  async start(): Promise<Snapshot> {
    try {
      await this.refresh();
    } catch (e) {
      if (e instanceof IntegrityError) throw e;
      const saved = this.loadDisk();
      if (!saved) throw e;
      this.current = saved;
      this.o.log(`release: canister unreachable (${(e as Error).message}); serving release ${saved.manifest.id} verified earlier`);
    }
    this.schedule();
    return this.current!;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Fetches and verifies the index and the wanted manifest; swaps the snapshot if it changed. */
  async refresh(): Promise<void> {
    const reader = await this.o.reader();
    const index = await reader.index();
    const wanted = this.o.pin ?? index.index.current;
    if (wanted === null) throw new Error('no release is published yet');
    if (this.current?.origin === 'canister' && this.current.manifest.id === wanted) return;
    const manifest = await reader.manifest(index, wanted);
    const previous = this.current?.manifest.id;
    this.current = snapshot(manifest, 'canister');
    if (this.diskPath) writeAtomic(this.diskPath, encodeJson(manifest));
    this.o.log(previous === undefined ? `release: serving release ${wanted}` : `release: now serving release ${wanted} (was ${previous})`);
    this.o.onChange?.(this.current);
  }

  private loadDisk(): Snapshot | null {
    const path = this.diskPath;
    if (!path || !existsSync(path)) return null;
    try {
      const m = decodeManifest(readFileSync(path));
      return this.o.pin === null || m.id === this.o.pin ? snapshot(m, 'disk') : null;
    } catch {
      return null;
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.refresh()
        .catch((e: Error) => this.o.log(`release: poll failed, still serving release ${this.current?.manifest.id}: ${e.message}`))
        .finally(() => this.schedule());
    }, this.o.pollSeconds * 1000);
    this.timer.unref();
  }
}

// The machine profiles and groups of the release being served, loaded from its
// certified files once per release and never written anywhere. A release whose
// icboot/ folder is invalid is remembered as such (one log line), so the
// machine endpoints can answer with the reason while the rest of the tree is
// still served; a failure to read (the canister unreachable) is not
// remembered, so the next request tries again.
import { TransientError, UserError } from '../../client/errors.ts';
import { verifiedFile } from '../../client/verify.ts';
import type { Manifest } from '../../common/manifest.ts';
import { MachinesError, loadMachines } from '../../common/machines/parse.ts';
import type { Machines, TreeReader } from '../../common/machines/types.ts';
import type { Snapshot } from '../release.ts';
import type { ReadFile } from './render.ts';

/** The files of one certified release as a TreeReader; each read is the whole file, verified. */
export function manifestTree(manifest: Manifest, chunk: (hash: string) => Promise<Uint8Array>): TreeReader {
  const files = new Map(manifest.files.map((f) => [f.path, f]));
  return {
    paths: () => files.keys(),
    size: (path) => files.get(path)?.size ?? 0,
    async read(path) {
      const file = files.get(path);
      if (!file) throw new UserError(`${path}: not in release ${manifest.id}`);
      const pieces: Uint8Array[] = [];
      for await (const piece of verifiedFile(file, chunk)) pieces.push(piece);
      return Buffer.concat(pieces);
    },
  };
}

/** A tree's files as the renderers read them: null for a path the tree does not hold. */
export function fileReader(tree: TreeReader): ReadFile {
  const paths = new Set(tree.paths());
  return (path) => (paths.has(path) ? tree.read(path) : Promise.resolve(null));
}

/** What a release holds for machines. */
export type ReleaseMachinesState =
  | { kind: 'machines'; release: number; machines: Machines; read: ReadFile }
  /** No icboot/profiles/ and no icboot/groups/. */
  | { kind: 'none'; release: number }
  | { kind: 'invalid'; release: number; error: MachinesError };

export class ReleaseMachines {
  private loading: { release: number; state: Promise<ReleaseMachinesState> } | null = null;

  constructor(
    private readonly release: { readonly snapshot: Snapshot | null },
    private readonly chunk: (hash: string) => Promise<Uint8Array>,
    private readonly log: (line: string) => void,
  ) {}

  /** The machines of the release served now; rejects while its files cannot be read (the canister unreachable). */
  current(): Promise<ReleaseMachinesState> {
    const snap = this.release.snapshot;
    if (!snap) return Promise.reject(new TransientError('no release loaded yet'));
    const id = snap.manifest.id;
    if (this.loading?.release !== id) {
      const state = this.load(snap.manifest);
      this.loading = { release: id, state };
      state.catch(() => {
        if (this.loading?.state === state) this.loading = null;
      });
    }
    return this.loading.state;
  }

  /** Loads the current release's machines ahead of the first request, so an invalid icboot/ is logged at once. */
  preload(): void {
    this.current().catch((e: Error) => this.log(`machines: cannot read icboot/ yet (the first request tries again): ${e.message}`));
  }

  private async load(manifest: Manifest): Promise<ReleaseMachinesState> {
    const release = manifest.id;
    const tree = manifestTree(manifest, this.chunk);
    try {
      const machines = await loadMachines(tree);
      if (!machines) return { kind: 'none', release };
      this.log(`machines: release ${release}: ${machines.profiles.size} profiles, ${machines.groups.length} groups`);
      return { kind: 'machines', release, machines, read: fileReader(tree) };
    } catch (e) {
      if (!(e instanceof MachinesError)) throw e;
      this.log(`machines: release ${release}: icboot/ is invalid, the machine endpoints answer 500 (files are still served): ${e.message}`);
      return { kind: 'invalid', release, error: e };
    }
  }
}

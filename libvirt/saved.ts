// What `icboot libvirt-network --apply` keeps so that `--revert` can undo it:
// the network's definition before icboot first edited it, or a note that
// icboot created the network. One folder per libvirt connection.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeAtomic } from '../common/write_atomic.ts';
import { UserError } from '../common/errors.ts';

export type Saved = { kind: 'edited'; original: string } | { kind: 'created'; uuid: string };

export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'icboot', 'libvirt');
}

export class SavedNetworks {
  private readonly dir: string;

  constructor(root: string, uri: string) {
    this.dir = join(root, encodeURIComponent(uri));
  }

  /** Where the original definition of `name` is kept (for messages: an operator can `virsh net-define` it). */
  originalFile(name: string): string {
    return join(this.dir, `${encodeURIComponent(name)}.xml`);
  }

  private createdFile(name: string): string {
    return join(this.dir, `${encodeURIComponent(name)}.created`);
  }

  get(name: string): Saved | null {
    if (existsSync(this.originalFile(name))) return { kind: 'edited', original: readFileSync(this.originalFile(name), 'utf8') };
    if (existsSync(this.createdFile(name))) return { kind: 'created', uuid: readFileSync(this.createdFile(name), 'utf8').trim() };
    return null;
  }

  put(name: string, saved: Saved): void {
    try {
      mkdirSync(this.dir, { recursive: true });
      // One record per network: a new one replaces the other kind.
      if (saved.kind === 'edited') {
        writeAtomic(this.originalFile(name), saved.original);
        rmSync(this.createdFile(name), { force: true });
      } else {
        writeAtomic(this.createdFile(name), `${saved.uuid}\n`);
        rmSync(this.originalFile(name), { force: true });
      }
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new UserError(`cannot save network ${name}'s original definition under ${this.dir} (${err.code ?? err.message}), so --revert could not restore it; nothing was changed. `
        + 'Set XDG_STATE_HOME to a writable folder');
    }
  }

  forget(name: string): void {
    rmSync(this.originalFile(name), { force: true });
    rmSync(this.createdFile(name), { force: true });
  }
}

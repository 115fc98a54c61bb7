// `icboot ls`: the files of a release, verified.
import type { Command } from 'commander';
import type { CommonOptions } from '../../client/canister.ts';
import { canisterCommand, open, releaseManifest } from '../canister_command.ts';
import { releaseId } from '../flags.ts';
import { table } from '../format.ts';

export function register(program: Command): void {
  canisterCommand(program, 'ls', 'list the files of a release (verified)')
    .option('--release <n>', 'release id (default: current)', releaseId)
    .option('-l, --long', 'show size and SHA-256')
    .action(async (o: CommonOptions & { release?: number; long?: boolean }) => {
      const { reader } = await open(o);
      const m = await releaseManifest(reader, o.release);
      const lines = o.long ? table(m.files.map((f) => [String(f.size), f.sha256, f.path])) : m.files.map((f) => f.path).join('\n');
      if (lines) process.stdout.write(lines + '\n');
    });
}

// `icboot ls`: the files of a release, verified.
import type { Command } from 'commander';
import type { CommonOptions } from '../../client/canister.ts';
import { canisterCommand, open, releaseManifest } from '../canister_command.ts';
import { releaseId } from '../flags.ts';
import { table } from '../format.ts';
import { example } from '../help.ts';
import { jsonOption, jsonTime, origin, printJson } from '../json.ts';

export function register(program: Command): void {
  const command = canisterCommand(program, 'ls', 'list the files of a release (verified)')
    .option('--release <n>', 'release id (default: current)', releaseId)
    .option('-l, --long', 'show size and SHA-256')
    .addOption(jsonOption())
    .action(async (o: CommonOptions & { release?: number; long?: boolean; json?: boolean }) => {
      const { c, id, reader } = await open(o);
      const m = await releaseManifest(reader, o.release);
      if (o.json) {
        printJson({
          ...origin(c, id), release: m.id, label: m.label, author: m.author, created: jsonTime(m.created), chunk_size: m.chunk_size,
          files: m.files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256 })),
        });
        return;
      }
      const lines = o.long ? table(m.files.map((f) => [String(f.size), f.sha256, f.path])) : m.files.map((f) => f.path).join('\n');
      if (lines) process.stdout.write(lines + '\n');
    });
  example(command, 'icboot ls -l --release 2');
}

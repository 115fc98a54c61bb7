// `icboot releases`: the certified index as a table.
import type { Command } from 'commander';
import type { CommonOptions } from '../../client/canister.ts';
import { retry } from '../../client/retry.ts';
import { canisterCommand, open } from '../canister_command.ts';
import { bytes, isoTime, table } from '../format.ts';

export function register(program: Command): void {
  canisterCommand(program, 'releases', 'list releases (verified); * marks the current one')
    .action(async (o: CommonOptions) => {
      const { reader } = await open(o);
      const { index } = await retry(() => reader.index());
      const rows = index.releases.map((r) => [
        `${r.id === index.current ? '*' : ' '}${r.id}`, isoTime(r.created), String(r.files), bytes(r.bytes), r.author, r.label,
      ]);
      process.stdout.write(table([[' ID', 'CREATED', 'FILES', 'SIZE', 'AUTHOR', 'LABEL'], ...rows]) + '\n');
    });
}

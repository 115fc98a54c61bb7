// `icboot releases`: the certified index as a table.
import type { Command } from 'commander';
import type { CommonOptions } from '../../client/canister.ts';
import { retry } from '../../client/retry.ts';
import { canisterCommand, open } from '../canister_command.ts';
import { bytes, isoTime, table } from '../format.ts';
import { example } from '../help.ts';
import { jsonOption, jsonTime, origin, printJson } from '../json.ts';

export function register(program: Command): void {
  const command = canisterCommand(program, 'releases', 'list releases (verified); * marks the current one')
    .addOption(jsonOption())
    .action(async (o: CommonOptions & { json?: boolean }) => {
      const { c, id, reader } = await open(o);
      const { index } = await retry(() => reader.index());
      if (o.json) {
        printJson({
          ...origin(c, id),
          current: index.current,
          releases: index.releases.map((r) => ({
            release: r.id, current: r.id === index.current, created: jsonTime(r.created), file_count: r.files, bytes: r.bytes,
            author: r.author, label: r.label, manifest_sha256: r.manifest_sha256,
          })),
        });
        return;
      }
      const rows = index.releases.map((r) => [
        `${r.id === index.current ? '*' : ' '}${r.id}`, isoTime(r.created), String(r.files), bytes(r.bytes), r.author, r.label,
      ]);
      process.stdout.write(table([[' ID', 'CREATED', 'FILES', 'SIZE', 'AUTHOR', 'LABEL'], ...rows]) + '\n');
    });
  example(command, 'icboot releases --network ic');
}

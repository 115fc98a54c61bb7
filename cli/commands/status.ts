// `icboot status`: the canister's counters as a table.
import type { Command } from 'commander';
import { requireCanisterId, type CommonOptions } from '../../client/canister.ts';
import { canisterCommand, open, where } from '../canister_command.ts';
import { bytes, table } from '../format.ts';

export function register(program: Command): void {
  canisterCommand(program, 'status', 'releases, chunks, storage, dedup ratio and cycles of the canister')
    .action(async (o: CommonOptions) => {
      const { c, canister } = await open(o);
      const s = await canister.status();
      const stored = Number(s.chunk_bytes);
      const logical = Number(s.logical_bytes);
      process.stdout.write(table([
        ['network', where(c)],
        ['canister', requireCanisterId(c.network, o.canister).toText()],
        ['releases', String(s.releases)],
        ['current', s.current.length ? String(s.current[0]) : '(none)'],
        ['chunks', `${s.chunks} (${bytes(stored)})`],
        ['unused chunks', String(s.garbage_chunks)],
        ['release bytes', bytes(logical)],
        ['dedup ratio', stored > 0 ? `${(logical / stored).toFixed(2)}x` : '-'],
        ['authorized', String(s.authorized)],
        ['cycles', s.cycles.toLocaleString('en-US')],
      ]) + '\n');
    });
}

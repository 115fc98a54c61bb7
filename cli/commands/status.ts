// `icboot status`: the canister's counters as a table and, for a controller,
// its memory and what it burns from the management canister's canister_status.
import type { Command } from 'commander';
import { requireCanisterId, type CommonOptions } from '../../client/canister.ts';
import { NotControllerError } from '../../client/errors.ts';
import { readCanisterFunds, type CanisterFunds } from '../../client/management.ts';
import { canisterCommand, open, where } from '../canister_command.ts';
import { bytes, cycles, table } from '../format.ts';

export function register(program: Command): void {
  canisterCommand(program, 'status', 'releases, chunks, storage, dedup ratio and cycles of the canister')
    .action(async (o: CommonOptions) => {
      const { c, canister } = await open(o);
      const id = requireCanisterId(c.network, o.canister);
      const [s, funds] = await Promise.all([
        canister.status(),
        readCanisterFunds(c, id).catch((e: unknown) => {
          if (e instanceof NotControllerError) return null;
          throw e;
        }),
      ]);
      const stored = Number(s.chunk_bytes);
      const logical = Number(s.logical_bytes);
      process.stdout.write(table([
        ['network', where(c)],
        ['canister', id.toText()],
        ['releases', String(s.releases)],
        ['current', s.current.length ? String(s.current[0]) : '(none)'],
        ['chunks', `${s.chunks} (${bytes(stored)})`],
        ['unused chunks', String(s.garbage_chunks)],
        ['release bytes', bytes(logical)],
        ['dedup ratio', stored > 0 ? `${(logical / stored).toFixed(2)}x` : '-'],
        ['authorized', String(s.authorized)],
        ['cycles', s.cycles.toLocaleString('en-US')],
        ...(funds ? fundRows(funds) : []),
      ]) + '\n');
      if (!funds) process.stdout.write(`memory and burn: only a controller of the canister can read them (${c.identity.getPrincipal().toText()} is not one)\n`);
    });
}

function fundRows(f: CanisterFunds): string[][] {
  return [
    ['memory', bytes(Number(f.memoryBytes))],
    ['idle burn', `${cycles(f.burnPerDay)} per day`],
    ['freezing threshold', cycles(f.freezingThreshold)],
    ['lasts idle', f.idleDays === null ? 'indefinitely (burns nothing)' : `${f.idleDays.toLocaleString('en-US')} days until frozen`],
  ];
}

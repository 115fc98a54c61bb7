// `icboot status`: the canister's counters as a table and, for a controller,
// its memory and what it burns from the management canister's canister_status.
import type { Command } from 'commander';
import type { Principal } from '@dfinity/principal';
import type { CommonOptions, Connection } from '../../client/canister.ts';
import { NotControllerError } from '../../client/errors.ts';
import { readCanisterFunds, type CanisterFunds } from '../../client/management.ts';
import type { CanisterStatus as Status } from '../../common/icboot_idl.ts';
import { canisterCommand, open, where } from '../canister_command.ts';
import { bytes, cycles, table } from '../format.ts';
import { example } from '../help.ts';
import { amount, jsonOption, origin, printJson } from '../json.ts';

export function register(program: Command): void {
  const command = canisterCommand(program, 'status', 'releases, chunks, storage, dedup ratio and cycles of the canister')
    .addOption(jsonOption())
    .action(async (o: CommonOptions & { json?: boolean }) => {
      const { c, id, canister } = await open(o);
      const [s, funds] = await Promise.all([
        canister.status(),
        readCanisterFunds(c, id).catch((e: unknown) => {
          if (e instanceof NotControllerError) return null;
          throw e;
        }),
      ]);
      if (o.json) printJson(statusJson(c, id, s, funds));
      else process.stdout.write(statusText(c, id, s, funds));
    });
  example(command, 'icboot status --network ic --canister ID');
}

/** Release bytes over stored bytes; null while nothing is stored. */
const dedupRatio = (s: Status): number | null => (s.chunk_bytes > 0n ? Number(s.logical_bytes) / Number(s.chunk_bytes) : null);

function statusText(c: Connection, id: Principal, s: Status, funds: CanisterFunds | null): string {
  const ratio = dedupRatio(s);
  const text = table([
    ['network', where(c)],
    ['canister', id.toText()],
    ['releases', String(s.releases)],
    ['current', s.current.length ? String(s.current[0]) : '(none)'],
    ['chunks', `${s.chunks} (${bytes(Number(s.chunk_bytes))})`],
    ['unused chunks', String(s.garbage_chunks)],
    ['release bytes', bytes(Number(s.logical_bytes))],
    ['dedup ratio', ratio === null ? '-' : `${ratio.toFixed(2)}x`],
    ['authorized', String(s.authorized)],
    ['cycles', s.cycles.toLocaleString('en-US')],
    ...(funds ? fundRows(funds) : []),
  ]) + '\n';
  return funds ? text : `${text}memory and burn: only a controller of the canister can read them (${c.identity.getPrincipal().toText()} is not one)\n`;
}

function fundRows(f: CanisterFunds): string[][] {
  return [
    ['memory', bytes(Number(f.memoryBytes))],
    ['idle burn', `${cycles(f.burnPerDay)} per day`],
    ['freezing threshold', cycles(f.freezingThreshold)],
    ['lasts idle', f.idleDays === null ? 'indefinitely (burns nothing)' : `${f.idleDays.toLocaleString('en-US')} days until frozen`],
  ];
}

/** The `status --json` document (docs/cli.md). */
function statusJson(c: Connection, id: Principal, s: Status, funds: CanisterFunds | null): object {
  return {
    ...origin(c, id),
    release_count: s.releases,
    current: s.current.length ? Number(s.current[0]) : null,
    chunk_count: Number(s.chunks),
    chunk_bytes: Number(s.chunk_bytes),
    unused_chunk_count: Number(s.garbage_chunks),
    release_bytes: Number(s.logical_bytes),
    dedup_ratio: dedupRatio(s),
    authorized_count: s.authorized,
    cycles: amount(s.cycles),
    // canister_status is for controllers only: null for anyone else.
    controller: funds ? {
      memory_bytes: Number(funds.memoryBytes),
      idle_burn_per_day: amount(funds.burnPerDay),
      freezing_threshold: amount(funds.freezingThreshold),
      idle_days: funds.idleDays === null ? null : Number(funds.idleDays),
    } : null,
  };
}

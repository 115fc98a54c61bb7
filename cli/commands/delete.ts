// `icboot delete N`: delete a release, then reclaim the chunks no release uses.
import type { Command } from 'commander';
import type { CommonOptions } from '../../client/canister.ts';
import { collectGarbage } from '../../client/gc.ts';
import { canisterCommand, open } from '../canister_command.ts';
import { releaseId } from '../flags.ts';
import { bytes } from '../format.ts';
import { example } from '../help.ts';

export function register(program: Command): void {
  const command = canisterCommand(program, 'delete', 'delete a release that is not current and reclaim chunks no release uses')
    .argument('<release>', 'release id', releaseId)
    .action(async (id: number, o: CommonOptions) => {
      const { canister } = await open(o);
      await canister.delete_release(BigInt(id));
      const { deleted, freedBytes } = await collectGarbage(canister);
      process.stdout.write(`release ${id} deleted; ${deleted} unused chunks reclaimed (${bytes(Number(freedBytes))})\n`);
    });
  example(command, 'icboot delete 3');
}

// `icboot publish N`: make release N current.
import type { Command } from 'commander';
import type { CommonOptions } from '../../client/canister.ts';
import { canisterCommand, open } from '../canister_command.ts';
import { releaseId } from '../flags.ts';
import { example } from '../help.ts';

export function register(program: Command): void {
  const command = canisterCommand(program, 'publish', 'make a release current (roll forward or back)')
    .argument('<release>', 'release id', releaseId)
    .action(async (id: number, o: CommonOptions) => {
      const { canister } = await open(o);
      await canister.publish(BigInt(id));
      process.stdout.write(`release ${id} is now current\n`);
    });
  example(command, 'icboot publish 2    # roll back to release 2');
}

// `icboot authorize` and `icboot deauthorize`: who may upload and publish.
import type { Command } from 'commander';
import type { Principal } from '@dfinity/principal';
import type { CommonOptions } from '../../client/canister.ts';
import { canisterCommand, open } from '../canister_command.ts';
import { principal } from '../flags.ts';
import { example } from '../help.ts';

interface AccessChange {
  name: 'authorize' | 'deauthorize';
  description: string;
  /** What the principal may do afterwards, as printed. */
  outcome: string;
}

const CHANGES: AccessChange[] = [
  { name: 'authorize', description: 'allow a principal to upload and publish (controllers only)', outcome: 'may now write' },
  { name: 'deauthorize', description: 'withdraw a principal\'s write access (controllers only)', outcome: 'may no longer write' },
];

/** Registers both commands, authorize first. */
export function register(program: Command): void {
  for (const change of CHANGES) {
    const command = canisterCommand(program, change.name, change.description)
      .argument('<principal>', `principal to ${change.name}`, principal)
      .action(async (who: Principal, o: CommonOptions) => {
        const { canister } = await open(o);
        await canister[change.name](who);
        process.stdout.write(`${who.toText()} ${change.outcome}\n`);
      });
    example(command, `icboot ${change.name} $(dfx identity get-principal --identity uploader)`);
  }
}

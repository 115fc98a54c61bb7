// `icboot cat PATH`: one file of a release to stdout, verified chunk by chunk.
import type { Command } from 'commander';
import type { CommonOptions } from '../../client/canister.ts';
import { UserError } from '../../client/errors.ts';
import { retry } from '../../client/retry.ts';
import { writeVerified } from '../../client/spool.ts';
import { canisterCommand, open, releaseManifest } from '../canister_command.ts';
import { releaseId } from '../flags.ts';
import { example } from '../help.ts';

export function register(program: Command): void {
  const command = canisterCommand(program, 'cat', 'write a file of a release to stdout, verified against the certified release')
    .argument('<path>', 'path inside the boot tree')
    .option('--release <n>', 'release id (default: current)', releaseId)
    .action(async (path: string, o: CommonOptions & { release?: number }) => {
      const { reader } = await open(o);
      const m = await releaseManifest(reader, o.release);
      const wanted = path.replace(/^\/+/, '');
      const file = m.files.find((f) => f.path === wanted);
      if (!file) throw new UserError(`${wanted}: no such file in release ${m.id}`);
      await writeVerified(file, (hash) => retry(() => reader.chunk(hash)), process.stdout);
    });
  example(command, 'icboot cat pxelinux.cfg/default --release 2');
}

// `icboot sample debian DIR`: a bootable tree from installed Debian packages.
import type { Command } from 'commander';
import { UserError } from '../../client/errors.ts';
import { example } from '../help.ts';

export function register(program: Command): void {
  const command = program.command('sample')
    .description('assemble a bootable PXE tree from Debian packages (no downloads)')
    .argument('<kind>', 'debian: the Debian 12 netboot installer, serial console')
    .argument('[dir]', 'where to write it', 'debian-tree')
    .action(async (kind: string, dir: string) => {
      if (kind !== 'debian') throw new UserError(`unknown sample "${kind}" (available: debian)`);
      const { assembleDebianTree } = await import('../sample.ts');
      assembleDebianTree(dir);
      process.stdout.write(`${dir}\n`);
    });
  example(command, 'icboot sample debian ./debian-tree');
}

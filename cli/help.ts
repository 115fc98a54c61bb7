// What `--help` shows after the flags: one example command line, so a new
// user sees the command used once rather than working it out from the flags.
import type { Command } from 'commander';

/** Adds `Example:` and the given command lines after the command's help. */
export function example(command: Command, ...lines: string[]): Command {
  return command.addHelpText('after', `\nExample:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
}

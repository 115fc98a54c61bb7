// The `icboot` command line: each command parses its flags and calls one module.
import { Command, CommanderError } from 'commander';
import { UserError } from '../client/errors.ts';
import { example } from './help.ts';
import { versions, versionText } from './version.ts';
import * as access from './commands/access.ts';
import * as cat from './commands/cat.ts';
import * as deleteRelease from './commands/delete.ts';
import * as deploy from './commands/deploy.ts';
import * as devnet from './commands/devnet.ts';
import * as gateway from './commands/gateway.ts';
import * as libvirtNetwork from './commands/libvirt_network.ts';
import * as ls from './commands/ls.ts';
import * as machines from './commands/machines.ts';
import * as publish from './commands/publish.ts';
import * as releases from './commands/releases.ts';
import * as sample from './commands/sample.ts';
import * as status from './commands/status.ts';
import * as upload from './commands/upload.ts';

/** In the order `icboot --help` lists them. */
const COMMANDS = [devnet, sample, libvirtNetwork, gateway, deploy, upload, machines, ls, cat, releases, publish, deleteRelease, access, status];

/**
 * Thrown while the flags are parsed, as commander's own --version does, but
 * answered after parsing: the module hash may need a build, which is async.
 */
class VersionRequested extends Error {}

export function program(): Command {
  const p = new Command('icboot')
    .description('Network boot (PXE over TFTP/HTTP) from boot trees certified by an Internet Computer canister')
    .option('-V, --version', 'print the icboot version, the SHA-256 of the canister module deploy installs, and the Node version')
    .on('option:version', () => {
      throw new VersionRequested();
    })
    .configureOutput({ outputError: (text, write) => write(`icboot: ${text.replace(/^error: /, '')}`) });
  example(p, 'icboot upload ./debian-tree --label "debian 12"', 'icboot COMMAND --help');
  for (const command of COMMANDS) command.register(p);
  return p;
}

/** Parses and runs the command; --version is answered here, once parsing stopped for it. */
async function run(argv: string[]): Promise<void> {
  try {
    await program().exitOverride().parseAsync(argv);
  } catch (e) {
    if (!(e instanceof VersionRequested)) throw e;
    process.stdout.write(versionText(versions()));
  }
}

export async function main(argv: string[]): Promise<void> {
  // `icboot cat FILE | head` closes the pipe early: that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  try {
    await run(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help output is not an error; usage errors were already printed.
      process.exitCode = e.exitCode;
      return;
    }
    const err = e as Error;
    const message = process.env.ICBOOT_DEBUG ? err.stack : e instanceof UserError ? err.message : err.message.split('\n')[0];
    process.stderr.write(`icboot: ${message}\n`);
    process.exitCode = 1;
  }
}

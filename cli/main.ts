// The `icboot` command line: each command parses its flags and calls one module.
import { Command, InvalidArgumentError } from 'commander';
import { startDevnet } from '../devnet/index.ts';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number (0-65535)');
  return n;
}

export function program(): Command {
  const p = new Command('icboot')
    .description('Network boot (PXE over TFTP/HTTP) from boot trees certified by an Internet Computer canister')
    .showHelpAfterError();

  p.command('devnet')
    .description('run a local IC endpoint that hosts canister wasm, for dfx-less development and tests')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 picks a free one)', port, 4943)
    .option('--state-dir <dir>', 'where keys, canisters and stable memory are kept', '.icboot/devnet')
    .action(async (o: { host: string; port: number; stateDir: string }) => {
      const devnet = await startDevnet({ host: o.host, port: o.port, stateDir: o.stateDir });
      process.stdout.write(`devnet listening on ${devnet.url}\n`);
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        process.stderr.write(`devnet: ${signal}, shutting down\n`);
        devnet.close().then(() => process.exit(0), (e: Error) => {
          process.stderr.write(`devnet: shutdown failed: ${e.message}\n`);
          process.exit(1);
        });
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });

  return p;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (e) {
    process.stderr.write(`icboot: ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}

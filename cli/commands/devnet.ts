// `icboot devnet`: a local IC endpoint until SIGINT or SIGTERM.
import { Option, type Command } from 'commander';
import { collectHash, fraction, instructionLimits, integer, port, type LimitKind } from '../flags.ts';
import { example } from '../help.ts';
import { createLogger, logFormatOption, type LogFormat } from '../log.ts';

export function register(program: Command): void {
  const command = program.command('devnet')
    .description('run a local IC endpoint that hosts canister wasm, for dfx-less development and tests')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 picks a free one)', port, 4943)
    .option('--state-dir <dir>', 'where keys, canisters and stable memory are kept', '.icboot/devnet')
    .addOption(new Option('--latency <ms>', 'fault injection: delay every reply').argParser(integer(0, 60_000)).default(undefined, 'off'))
    .addOption(new Option('--fail-queries <fraction>', 'fault injection: answer this share of queries with HTTP 503').argParser(fraction).default(undefined, 'off'))
    .addOption(new Option('--corrupt-chunk <sha256>', 'fault injection: corrupt query replies naming this chunk (repeatable)').argParser(collectHash).default([], 'none'))
    .option('--log-instructions', "log each message's method, instructions and cycles")
    .option('--no-metering', 'count no instructions and enforce no limits (to compare speed)')
    .option('--instruction-limits <kind=n,...>', "replace the replica's limits (query 5e9, update 40e9, install 300e9, inspect 2e8), e.g. for tests", instructionLimits)
    .addOption(logFormatOption())
    .action(async (o: {
      host: string; port: number; stateDir: string; latency?: number; failQueries?: number; corruptChunk: string[];
      logInstructions?: boolean; metering: boolean; instructionLimits?: Partial<Record<LimitKind, bigint>>; logFormat: LogFormat;
    }) => {
      const logger = createLogger(o.logFormat);
      // Loaded here: the other commands need none of the devnet's code.
      const { startDevnet } = await import('../../devnet/index.ts');
      const devnet = await startDevnet({
        host: o.host, port: o.port, stateDir: o.stateDir,
        faults: { latencyMs: o.latency, failQueries: o.failQueries, corruptChunks: o.corruptChunk },
        metering: o.metering, instructionLimits: o.instructionLimits, logInstructions: o.logInstructions,
        log: (line) => logger.info(line),
      });
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        logger.info(`devnet: ${signal}, shutting down`);
        devnet.close().then(() => process.exit(0), (e: Error) => {
          logger.error(`devnet: shutdown failed: ${e.message}`);
          process.exit(1);
        });
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
      // Only once a signal stops it cleanly: whoever waits for this line may send one at once.
      process.stdout.write(`devnet listening on ${devnet.url}\n`);
    });
  example(command, 'icboot devnet --port 0 --state-dir /tmp/devnet');
}

// `icboot upload DIR`: send a boot tree and publish it as a release.
import { Option, type Command } from 'commander';
import type { CommonOptions } from '../../client/canister.ts';
import { MAX_CHUNK_BYTES, MIN_CHUNK_SIZE } from '../../common/limits.ts';
import { DEFAULT_CHUNK_SIZE, DEFAULT_CONCURRENCY, upload } from '../../uploader/upload.ts';
import { canisterCommand, open } from '../canister_command.ts';
import { integer } from '../flags.ts';
import { bytes, cycles } from '../format.ts';
import { progressPrinter } from '../progress.ts';

interface UploadFlags extends CommonOptions {
  label: string; dryRun?: boolean; publish: boolean; concurrency: number; chunkSize: number; subnetSize: string;
}

export function register(program: Command): void {
  canisterCommand(program, 'upload', 'upload a boot tree directory and publish it as a new release')
    .argument('<dir>', 'boot tree, laid out like /srv/tftp')
    .option('--label <text>', 'release label', '')
    .option('--dry-run', 'say what would be sent, send nothing')
    .option('--no-publish', 'create the release without making it current')
    .option('--concurrency <n>', 'calls in flight', integer(1, 64), DEFAULT_CONCURRENCY)
    .option('--chunk-size <bytes>', 'chunk size', integer(MIN_CHUNK_SIZE, MAX_CHUNK_BYTES), DEFAULT_CHUNK_SIZE)
    .addOption(new Option('--subnet-size <nodes>', 'with --dry-run: nodes of the mainnet subnet to price for').choices(['13', '34']).default('13'))
    .action(async (dir: string, o: UploadFlags) => {
      const { canister } = await open(o);
      const show = progressPrinter(process.stderr);
      const r = await upload(canister, dir, {
        label: o.label || dir, chunkSize: o.chunkSize, concurrency: o.concurrency, dryRun: Boolean(o.dryRun), publish: o.publish,
        subnetSize: Number(o.subnetSize),
      }, show.update);
      show.done();
      const sent = `${o.dryRun ? 'would send' : 'sent'} ${bytes(r.bytesSent)}`;
      process.stdout.write(`${r.files} files, ${bytes(r.bytes)}, ${r.chunks} chunks (${r.newChunks} new, ${r.reusedChunks} reused), ${sent} in ${r.seconds.toFixed(1)} s\n`);
      if (r.cost) {
        const c = r.cost;
        process.stdout.write(`mainnet estimate, ${o.subnetSize}-node subnet: ingress ${cycles(c.ingress)}, execution ${cycles(c.execution)}, total ${cycles(c.total)}\n`);
        process.stdout.write(`storing ${bytes(Number(c.storedBytes))} more: ${cycles(c.storagePerYear)} per year\n`);
      }
      if (r.releaseId !== null) process.stdout.write(`release ${r.releaseId}${r.published ? ' published' : ' created (not published)'}\n`);
    });
}

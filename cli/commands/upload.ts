// `icboot upload DIR`: send a boot tree and publish it as a new release,
// unless the current release already holds it.
import { Option, type Command } from 'commander';
import type { Principal } from '@dfinity/principal';
import type { CommonOptions, Connection } from '../../client/canister.ts';
import { MAX_CHUNK_BYTES, MIN_CHUNK_SIZE } from '../../common/limits.ts';
import { DEFAULT_CHUNK_SIZE, DEFAULT_CONCURRENCY, defaultLabel, upload, type Progress, type UploadReport } from '../../uploader/upload.ts';
import { canisterCommand, notice, open } from '../canister_command.ts';
import { byteSize, integer } from '../flags.ts';
import { byteFlag, bytes, cycles } from '../format.ts';
import { example } from '../help.ts';
import { amount, jsonOption, origin, printJson } from '../json.ts';
import { interruptedUpload, progressPrinter } from '../progress.ts';

interface UploadFlags extends CommonOptions {
  label?: string; dryRun?: boolean; publish: boolean; force?: boolean; concurrency: number; chunkSize: number; subnetSize: string; json?: boolean;
}

/** The exit status of a program stopped by SIGINT, as a shell reports it. */
const SIGINT_STATUS = 130;

export function register(program: Command): void {
  const command = canisterCommand(program, 'upload', 'upload a boot tree directory and publish it as a new release')
    .argument('<dir>', 'boot tree, laid out like /srv/tftp')
    .option('--label <text>', 'release label (default: the directory\'s name)')
    .option('--dry-run', 'say what would be sent and what it would cost on mainnet; send nothing')
    .option('--no-publish', 'create the release without making it current')
    .option('--force', 'create a new release even when the current one holds this tree under this label')
    .option('--concurrency <n>', 'calls in flight', integer(1, 64), DEFAULT_CONCURRENCY)
    .addOption(new Option('--chunk-size <bytes>', 'chunk size (suffixes K, M)')
      .argParser(byteSize(MIN_CHUNK_SIZE, MAX_CHUNK_BYTES)).default(DEFAULT_CHUNK_SIZE, byteFlag(DEFAULT_CHUNK_SIZE)))
    .addOption(new Option('--subnet-size <nodes>', 'with --dry-run: nodes of the mainnet subnet to price for').choices(['13', '34']).default('13'))
    .addOption(jsonOption())
    .action(async (dir: string, o: UploadFlags) => {
      const { c, id, canister } = await open(o);
      const show = progressPrinter(process.stderr);
      let last: Progress | undefined;
      // Ctrl-C: say what is stored already and that the same command picks up from there.
      process.once('SIGINT', () => {
        show.done();
        notice(interruptedUpload(last));
        process.exit(SIGINT_STATUS);
      });
      const r = await upload(canister, dir, {
        label: o.label ?? defaultLabel(dir), chunkSize: o.chunkSize, concurrency: o.concurrency, dryRun: Boolean(o.dryRun), publish: o.publish,
        skipIfCurrent: !o.force, subnetSize: Number(o.subnetSize),
      }, (p) => {
        last = p;
        show.update(p);
      });
      show.done();
      if (o.json) printJson(uploadJson(c, id, r, o));
      else process.stdout.write(uploadText(r, o));
    });
  example(command, 'icboot upload ./debian-tree --label "debian 12"');
}

function uploadText(r: UploadReport, o: UploadFlags): string {
  const sent = `${o.dryRun ? 'would send' : 'sent'} ${bytes(r.bytesSent)}`;
  const lines = [`${r.files} files, ${bytes(r.bytes)}, ${r.chunks} chunks (${r.newChunks} new, ${r.reusedChunks} reused), ${sent} in ${r.seconds.toFixed(1)} s`];
  if (r.cost) {
    const c = r.cost;
    lines.push(
      `mainnet estimate, ${o.subnetSize}-node subnet: ingress ${cycles(c.ingress)}, execution ${cycles(c.execution)}, total ${cycles(c.total)}`,
      `storing ${bytes(Number(c.storedBytes))} more: ${cycles(c.storagePerYear)} per year`,
    );
  }
  if (r.unchanged) lines.push(`release ${r.releaseId} is current and holds this tree already: nothing created (--force creates a new release)`);
  else if (r.releaseId !== null) lines.push(`release ${r.releaseId}${r.published ? ' published' : ' created (not published)'}`);
  return `${lines.join('\n')}\n`;
}

/** The `upload --json` document (docs/cli.md). */
function uploadJson(c: Connection, id: Principal, r: UploadReport, o: UploadFlags): object {
  return {
    ...origin(c, id),
    file_count: r.files,
    bytes: r.bytes,
    chunk_count: r.chunks,
    new_chunk_count: r.newChunks,
    reused_chunk_count: r.reusedChunks,
    bytes_sent: r.bytesSent,
    seconds: r.seconds,
    dry_run: Boolean(o.dryRun),
    unchanged: Boolean(r.unchanged),
    release: r.releaseId === null ? null : Number(r.releaseId),
    published: r.published,
    cost: r.cost ? {
      subnet_size: Number(o.subnetSize),
      ingress: amount(r.cost.ingress),
      execution: amount(r.cost.execution),
      total: amount(r.cost.total),
      stored_bytes: Number(r.cost.storedBytes),
      storage_per_year: amount(r.cost.storagePerYear),
    } : null,
  };
}

// `npm start`: the whole chain on one machine, no root and no dfx. Starts the
// devnet (state under .icboot/), deploys the canister if needed, uploads
// samples/tftp (no new release when unchanged), and serves it with the gateway
// on 127.0.0.1:6969 (TFTP) and 127.0.0.1:8080 (HTTP). Ctrl-C stops it all.
import { join } from 'node:path';
import { connect, icbootCanister } from '../client/canister.ts';
import { deploy } from '../client/deploy.ts';
import { PROJECT_DIR } from '../canister/icboot_module.ts';
import { UserError } from '../client/errors.ts';
import { startDevnet } from '../devnet/index.ts';
import { GATEWAY_DEFAULTS } from '../gateway/defaults.ts';
import { startGateway } from '../gateway/index.ts';
import { TFTP_DEFAULTS } from '../gateway/tftp/server.ts';
import { DEFAULT_CHUNK_SIZE, DEFAULT_CONCURRENCY, upload } from '../uploader/upload.ts';

const DEVNET = { host: '127.0.0.1', port: 4943 };
const TFTP = { host: '127.0.0.1', port: 6969 };
const HTTP = { host: '127.0.0.1', port: 8080 };
const say = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** What has started so far, closed last-started first when stopping. */
const running: { close(): Promise<void> }[] = [];
let stopping = false;

async function closeAll(): Promise<void> {
  for (const part of running.reverse()) await part.close();
}

function stop(): void {
  if (stopping) return;
  stopping = true;
  say('stopping');
  closeAll().then(() => process.exit(0), (e: Error) => {
    say(`icboot: shutdown failed: ${e.message}`);
    process.exit(1);
  });
}

async function main(): Promise<void> {
  // Before anything starts: Ctrl-C at any moment, even right after the banner, closes what is running.
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // 'local' is http://127.0.0.1:4943: the ids deploy records then serve plain `npx icboot ls`.
  const network = 'local';
  const devnet = await startDevnet({ ...DEVNET, stateDir: join('.icboot', 'devnet'), log: () => {} }).catch((e: NodeJS.ErrnoException) => {
    throw new UserError(e.code === 'EADDRINUSE' ? `port ${DEVNET.port} is in use (is dfx or another devnet running?)` : e.message);
  });
  running.push(devnet);
  say(`devnet listening on ${devnet.url} (state in .icboot/devnet)`);
  const c = await connect({ network }, say);
  const { canisterId, action } = await deploy(c, 'auto', undefined, say);
  say(`canister ${canisterId.toText()}: ${action === 'unchanged' ? 'up to date' : action}`);
  const r = await upload(icbootCanister(c, canisterId), join(PROJECT_DIR, 'samples', 'tftp'), {
    label: 'samples/tftp', chunkSize: DEFAULT_CHUNK_SIZE, concurrency: DEFAULT_CONCURRENCY, dryRun: false, publish: true, skipIfCurrent: true,
  });
  say(r.unchanged ? `samples/tftp unchanged: release ${r.releaseId} is current` : `samples/tftp uploaded as release ${r.releaseId}`);
  const g = await startGateway({
    network, canister: canisterId.toText(), tftp: TFTP, http: HTTP, release: null, pollSeconds: 5,
    cacheDir: join('.icboot', 'cache'), cacheMem: 64 * 1024 * 1024, cacheDisk: 1024 * 1024 * 1024,
    ...TFTP_DEFAULTS, ...GATEWAY_DEFAULTS, maxTransfers: 64, maxPerClient: 16, prefetch: true, log: say,
  });
  running.push(g);
  process.stdout.write(`
icboot is running: devnet ${devnet.url}, TFTP ${TFTP.host}:${TFTP.port}, HTTP http://${HTTP.host}:${HTTP.port}
Try:
  curl tftp://${TFTP.host}:${TFTP.port}/pxelinux.cfg/default
  curl http://${HTTP.host}:${HTTP.port}/README.txt
  npx icboot ls -l
Ctrl-C stops everything.
`);
}

main().catch((e: Error) => {
  // A start cut short by Ctrl-C ends through stop(), with its own exit code.
  if (stopping) return;
  process.stderr.write(`icboot: ${e instanceof UserError ? e.message : e.stack}\n`);
  process.exit(1);
});

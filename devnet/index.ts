// `icboot devnet`: a local IC endpoint (one subnet, one node) that runs real
// canister wasm and speaks the IC HTTP interface, state kept in a directory.
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { Keys } from './keys.ts';
import { ManagementCanister } from './management.ts';
import { Replica } from './replica.ts';
import { Faults, type FaultOptions } from './faults.ts';
import { createHttpInterface } from './http.ts';

export interface DevnetOptions {
  host: string;
  port: number;
  stateDir: string;
  faults?: FaultOptions;
  log?: (line: string) => void;
}

export interface Devnet {
  url: string;
  rootKey: Uint8Array;
  close(): Promise<void>;
}

export async function startDevnet(opts: DevnetOptions): Promise<Devnet> {
  const log = opts.log ?? ((line: string) => process.stderr.write(line + '\n'));
  mkdirSync(opts.stateDir, { recursive: true });
  const keys = Keys.loadOrCreate(opts.stateDir);
  const replica = new Replica(opts.stateDir, keys, log);
  const management = new ManagementCanister(replica);
  replica.attachManagement(management);
  replica.restore();
  const faults = new Faults(opts.faults);
  if (faults.active) log(`devnet: fault injection on: ${faults.describe()}`);
  const server = createHttpInterface({ replica, management, faults, log });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const prune = setInterval(() => replica.pruneRequests(), 60_000).unref();
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}`,
    rootKey: keys.rootKeyDer,
    async close() {
      clearInterval(prune);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await replica.close();
    },
  };
}

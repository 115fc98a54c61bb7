// `icboot devnet`: a local IC endpoint (one subnet, one node) that runs real
// canister wasm and speaks the IC HTTP interface, state kept in a directory.
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Builtins } from './builtin.ts';
import { executionOptions } from './canister.ts';
import { Clock } from './clock.ts';
import { cyclesMintingCanister } from './cmc.ts';
import { CyclesLedger } from './cycles_ledger.ts';
import { DataCertificates } from './data_certificates.ts';
import { Faults, type FaultOptions } from './faults.ts';
import { createHttpInterface } from './http.ts';
import { IngressStatus } from './ingress_status.ts';
import { Keys } from './keys.ts';
import { REPLICA_LIMITS, type InstructionLimits } from './limits.ts';
import { ManagementCanister } from './management.ts';
import { Queries } from './queries.ts';
import { CanisterRegistry } from './registry.ts';
import { Replica } from './replica.ts';

export interface DevnetOptions {
  host: string;
  port: number;
  stateDir: string;
  faults?: FaultOptions;
  log?: (line: string) => void;
  /** Count instructions and enforce the limits (default on). */
  metering?: boolean;
  /** Lower (or raise) the replica's instruction limits, e.g. so tests reach them quickly. */
  instructionLimits?: Partial<InstructionLimits>;
  /** Nodes of the subnet whose fees are charged (default 13). */
  subnetSize?: number;
  /** Log every message's method, instructions and cycles. */
  logInstructions?: boolean;
}

export interface Devnet {
  url: string;
  close(): Promise<void>;
}

export async function startDevnet(opts: DevnetOptions): Promise<Devnet> {
  const log = opts.log ?? ((line: string) => process.stderr.write(line + '\n'));
  mkdirSync(opts.stateDir, { recursive: true });
  const keys = Keys.loadOrCreate(opts.stateDir);
  const clock = new Clock();
  const canisters = new CanisterRegistry(opts.stateDir, log, executionOptions({
    metering: opts.metering,
    limits: { ...REPLICA_LIMITS, ...opts.instructionLimits },
    subnetSize: opts.subnetSize,
    logInstructions: opts.logInstructions,
    cacheDir: join(opts.stateDir, 'wasm-cache'),
  }));
  const ingress = new IngressStatus();
  const management = new ManagementCanister(canisters, log);
  const builtins = new Builtins([new CyclesLedger(opts.stateDir, management, keys.subnetId), cyclesMintingCanister(keys.subnetId)]);
  canisters.hostBuiltins(builtins.all().map((b) => b.id));
  const replica = new Replica(canisters, management, builtins, clock, ingress, log);
  const queries = new Queries(canisters, clock, new DataCertificates(keys), management, builtins);
  canisters.restore(() => clock.now());
  replica.scheduleTimers();
  const faults = new Faults(opts.faults);
  if (faults.active) log(`devnet: fault injection on: ${faults.describe()}`);
  const server = createHttpInterface({ keys, clock, canisters, queries, replica, ingress, management, faults, log });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const prune = setInterval(() => ingress.prune(), 60_000).unref();
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}`,
    async close() {
      clearInterval(prune);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A stopped devnet answers nothing more: clients' kept-alive and in-flight requests end now, not at their timeouts.
        server.closeAllConnections();
      });
      await replica.close();
      canisters.close();
    },
  };
}

// What every command that talks to a canister shares: its flags, and turning
// them into a connection, the typed canister and a verifying reader.
import { Command, Option } from 'commander';
import type { Principal } from '@dfinity/principal';
import { connect, icbootCanister, requireCanisterId, type CommonOptions, type Connection } from '../client/canister.ts';
import { retry } from '../client/retry.ts';
import { VerifiedReader } from '../client/verify.ts';
import type { IcbootService } from '../common/icboot_idl.ts';
import type { Manifest } from '../common/manifest.ts';

export function canisterCommand(parent: Command, name: string, description: string): Command {
  return parent.command(name)
    .description(description)
    .addOption(new Option('--network <network>', 'local, ic, or an endpoint URL').env('ICBOOT_NETWORK').default('local'))
    .addOption(new Option('--canister <id>', 'icboot canister id (default: recorded by deploy, or dfx\'s canister_ids.json)').env('ICBOOT_CANISTER'))
    .option('--identity <name>', 'dfx identity to sign with')
    .option('--pem <file>', 'PEM file (Ed25519 or secp256k1) to sign with');
}

/** Notices go to stderr, keeping stdout for what scripts read. */
export const notice = (line: string): void => {
  process.stderr.write(line + '\n');
};

export const where = (c: Connection): string => (c.network.name === c.network.host ? c.network.host : `${c.network.name} (${c.network.host})`);

export async function open(o: CommonOptions): Promise<{ c: Connection; id: Principal; canister: IcbootService; reader: VerifiedReader }> {
  const c = await connect(o, notice);
  const id = requireCanisterId(c.network, o.canister);
  const canister = icbootCanister(c, id);
  return { c, id, canister, reader: new VerifiedReader(canister, c.agent, id) };
}

/** The verified manifest of release `id`, or of the current release. */
export function releaseManifest(reader: VerifiedReader, id?: number): Promise<Manifest> {
  return retry(async () => reader.manifest(await reader.index(), id));
}

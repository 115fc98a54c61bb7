// What an upload would cost on mainnet, in cycles: the ingress fees of the
// update calls it would send, their execution (from the canister's measured
// instruction costs) and what keeping the new bytes costs per year. Queries
// (missing_chunks) are free on the IC and are not counted.
import { IDL } from '@dfinity/candid';
import {
  CANISTER_COSTS, createReleaseInstructions, putChunksInstructions, type CanisterCosts,
} from '../common/canister_costs.ts';
import { REFERENCE_SUBNET_SIZE, YEAR_SECONDS, executionCost, ingressCost, storageCost } from '../common/cycles.ts';
import { icbootMethods, type NewRelease } from '../common/icboot_idl.ts';
import { MANIFEST_VERSION, encodeJson } from '../common/manifest.ts';
import { lebLength } from '../common/leb128.ts';
import { packPutCalls } from './put_calls.ts';

/**
 * A signed ingress envelope's bytes besides the method name and the Candid
 * argument. Measured once by capturing the CBOR body @dfinity/agent 3.4.3
 * POSTs for put_chunks and publish calls signed by an Ed25519 identity
 * (request with nonce and expiry, sender_pubkey, sender_sig): 298 bytes for
 * arguments of 64 KiB or more, up to 4 fewer for shorter ones. A secp256k1
 * identity's longer public key adds 44 bytes.
 */
export const ENVELOPE_OVERHEAD_BYTES = 298n;

/** The manifest fields the canister fills in, at their usual lengths: a key's principal text and a time in nanoseconds. */
const AUTHOR_PLACEHOLDER = 'x'.repeat(63);
const CREATED_PLACEHOLDER = '1'.repeat(19);
/** As long as any release id can get, so the size is never under the real one. */
const ID_PLACEHOLDER = Number.MAX_SAFE_INTEGER;

export interface UploadPlan {
  /** Sizes of the chunks the canister lacks, in the order they would be sent. */
  missing: readonly number[];
  /** create_release's argument. */
  release: NewRelease;
  /** Whether publish would be called. */
  publish: boolean;
}

/** Cycles, except `storedBytes`. */
export interface UploadCost {
  /** Ingress fees of the update calls. */
  ingress: bigint;
  /** Execution fees of the update calls. */
  execution: bigint;
  /** ingress + execution. */
  total: bigint;
  /** New chunk bytes plus the manifest's. */
  storedBytes: bigint;
  /** Keeping `storedBytes` for a year. */
  storagePerYear: bigint;
}

/** The signed envelope of a call to `method` with an argument of `argBytes`. */
export function envelopeBytes(method: string, argBytes: number): bigint {
  return ENVELOPE_OVERHEAD_BYTES + BigInt(method.length + argBytes);
}

const HASH = new Uint8Array(32);


/**
 * The Candid argument of a put_chunks call carrying chunks of these sizes. Its
 * length depends on the sizes alone: the call is encoded with empty data, then
 * each chunk's bytes and the growth of its length prefix are added (encoding
 * megabytes of zeros would cost seconds on a large tree).
 */
export function putChunksArgBytes(sizes: readonly number[]): number {
  const empty = IDL.encode(icbootMethods.put_chunks.argTypes, [sizes.map(() => ({ hash: HASH, data: new Uint8Array() }))]).length;
  return sizes.reduce((n, size) => n + size + lebLength(size) - lebLength(0), empty);
}

export function createReleaseArgBytes(release: NewRelease): number {
  return IDL.encode(icbootMethods.create_release.argTypes, [release]).length;
}

const PUBLISH_ARG_BYTES = IDL.encode(icbootMethods.publish.argTypes, [0n]).length;

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The manifest create_release would write for `release`. */
export function manifestBytes(release: NewRelease): number {
  return encodeJson({
    version: MANIFEST_VERSION, id: ID_PLACEHOLDER, label: release.label, author: AUTHOR_PLACEHOLDER, created: CREATED_PLACEHOLDER,
    chunk_size: release.chunk_size,
    files: release.files.map((f) => ({ path: f.path, size: Number(f.size), sha256: hex(f.sha256), chunks: f.chunks.map(hex) })),
  }).length;
}

/**
 * The update calls upload() would send for `plan` (the empty put_chunks that
 * checks write access, the missing chunks packed as packPutCalls packs them,
 * create_release and publish) and what they cost on a subnet of `subnetSize` nodes.
 */
export function estimateUploadCost(plan: UploadPlan, subnetSize = REFERENCE_SUBNET_SIZE, costs: CanisterCosts = CANISTER_COSTS): UploadCost {
  let ingress = 0n;
  let execution = 0n;
  const call = (method: string, argBytes: number, instructions: bigint): void => {
    ingress += ingressCost(envelopeBytes(method, argBytes), subnetSize);
    execution += executionCost(instructions, subnetSize);
  };
  const newBytes = plan.missing.reduce((n, s) => n + s, 0);
  for (const sizes of [[], ...packPutCalls(plan.missing.map((size) => ({ size }))).map((c) => c.map((r) => r.size))]) {
    call('put_chunks', putChunksArgBytes(sizes), putChunksInstructions(BigInt(sizes.length), BigInt(sizes.reduce((n, s) => n + s, 0)), costs.put_chunks));
  }
  const manifest = manifestBytes(plan.release);
  const { files } = plan.release;
  const chunks = files.reduce((n, f) => n + f.chunks.length, 0);
  const pathBytes = files.reduce((n, f) => n + Buffer.byteLength(f.path), 0);
  call('create_release', createReleaseArgBytes(plan.release), createReleaseInstructions(BigInt(files.length), BigInt(pathBytes), BigInt(chunks), costs.create_release));
  if (plan.publish) call('publish', PUBLISH_ARG_BYTES, costs.publish.base);
  const storedBytes = BigInt(newBytes + manifest);
  return { ingress, execution, total: ingress + execution, storedBytes, storagePerYear: storageCost(storedBytes, YEAR_SECONDS, subnetSize) };
}

// The Candid interface of the icboot canister, defined once: the canister's
// methods take their Candid types and query/update mode from `icbootMethods`,
// the client's actor is built from it, and azle generates canister/icboot.did
// from the canister (canister/interface.test.ts checks all of them agree).
// Bundled into the canister too, so no Node APIs here.
import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';

const Bytes = IDL.Vec(IDL.Nat8);
/** A SHA-256 digest, 32 bytes. */
const Hash = Bytes;
const ChunkUpload = IDL.Record({ hash: Hash, data: Bytes });
const FileEntry = IDL.Record({ path: IDL.Text, size: IDL.Nat64, sha256: Hash, chunks: IDL.Vec(Hash) });
const NewRelease = IDL.Record({ label: IDL.Text, chunk_size: IDL.Nat32, files: IDL.Vec(FileEntry) });
const GcResult = IDL.Record({ deleted: IDL.Nat32, freed_bytes: IDL.Nat64, remaining: IDL.Nat64 });
const IndexWithCertificate = IDL.Record({ index: Bytes, certificate: IDL.Opt(Bytes) });
const CanisterStatus = IDL.Record({
  releases: IDL.Nat32,
  current: IDL.Opt(IDL.Nat64),
  chunks: IDL.Nat64,
  chunk_bytes: IDL.Nat64,
  logical_bytes: IDL.Nat64,
  garbage_chunks: IDL.Nat64,
  authorized: IDL.Nat32,
  cycles: IDL.Nat,
});

export const icbootMethods = {
  put_chunks: IDL.Func([IDL.Vec(ChunkUpload)], [IDL.Nat32], []),
  missing_chunks: IDL.Func([IDL.Vec(Hash)], [IDL.Vec(Hash)], ['query']),
  get_chunk: IDL.Func([Hash], [IDL.Opt(Bytes)], ['query']),
  create_release: IDL.Func([NewRelease], [IDL.Nat64], []),
  publish: IDL.Func([IDL.Nat64], [], []),
  delete_release: IDL.Func([IDL.Nat64], [], []),
  gc: IDL.Func([IDL.Nat32], [GcResult], []),
  index_certified: IDL.Func([], [IndexWithCertificate], ['query']),
  manifest: IDL.Func([IDL.Nat64], [IDL.Opt(Bytes)], ['query']),
  authorize: IDL.Func([IDL.Principal], [], []),
  deauthorize: IDL.Func([IDL.Principal], [], []),
  authorized: IDL.Func([], [IDL.Vec(IDL.Principal)], ['query']),
  status: IDL.Func([], [CanisterStatus], ['query']),
} satisfies { [K in keyof IcbootService]: IDL.FuncClass };

export const icbootIdlFactory: IDL.InterfaceFactory = () => IDL.Service(icbootMethods);

// The values the methods take and give, as @dfinity/candid encodes and decodes them.

export interface ChunkUpload {
  hash: Uint8Array;
  data: Uint8Array;
}

export interface FileEntry {
  path: string;
  size: bigint;
  sha256: Uint8Array;
  chunks: Uint8Array[];
}

export interface NewRelease {
  label: string;
  chunk_size: number;
  files: FileEntry[];
}

export interface GcResult {
  deleted: number;
  freed_bytes: bigint;
  remaining: bigint;
}

export interface IndexWithCertificate {
  index: Uint8Array;
  certificate: [] | [Uint8Array];
}

export interface CanisterStatus {
  releases: number;
  current: [] | [bigint];
  chunks: bigint;
  chunk_bytes: bigint;
  logical_bytes: bigint;
  garbage_chunks: bigint;
  authorized: number;
  cycles: bigint;
}

export interface IcbootService {
  put_chunks(uploads: ChunkUpload[]): Promise<number>;
  missing_chunks(hashes: Uint8Array[]): Promise<Uint8Array[]>;
  get_chunk(hash: Uint8Array): Promise<[] | [Uint8Array]>;
  create_release(r: NewRelease): Promise<bigint>;
  publish(id: bigint): Promise<void>;
  delete_release(id: bigint): Promise<void>;
  gc(limit: number): Promise<GcResult>;
  index_certified(): Promise<IndexWithCertificate>;
  manifest(id: bigint): Promise<[] | [Uint8Array]>;
  authorize(p: Principal): Promise<void>;
  deauthorize(p: Principal): Promise<void>;
  authorized(): Promise<Principal[]>;
  status(): Promise<CanisterStatus>;
}

// Candid interface of the icboot canister, as committed in canister/icboot.did.
import { IDL } from '@dfinity/candid';
import type { Principal } from '@dfinity/principal';

export const icbootIdlFactory: IDL.InterfaceFactory = ({ IDL: I }) => {
  const Hash = I.Vec(I.Nat8);
  const FileEntry = I.Record({ path: I.Text, size: I.Nat64, sha256: Hash, chunks: I.Vec(Hash) });
  return I.Service({
    put_chunks: I.Func([I.Vec(I.Record({ hash: Hash, data: I.Vec(I.Nat8) }))], [I.Nat32], []),
    missing_chunks: I.Func([I.Vec(Hash)], [I.Vec(Hash)], ['query']),
    get_chunk: I.Func([Hash], [I.Opt(I.Vec(I.Nat8))], ['query']),
    create_release: I.Func([I.Record({ label: I.Text, chunk_size: I.Nat32, files: I.Vec(FileEntry) })], [I.Nat64], []),
    publish: I.Func([I.Nat64], [], []),
    delete_release: I.Func([I.Nat64], [], []),
    gc: I.Func([I.Nat32], [I.Record({ deleted: I.Nat32, freed_bytes: I.Nat64, remaining: I.Nat64 })], []),
    index_certified: I.Func([], [I.Record({ index: I.Vec(I.Nat8), certificate: I.Opt(I.Vec(I.Nat8)) })], ['query']),
    manifest: I.Func([I.Nat64], [I.Opt(I.Vec(I.Nat8))], ['query']),
    authorize: I.Func([I.Principal], [], []),
    deauthorize: I.Func([I.Principal], [], []),
    authorized: I.Func([], [I.Vec(I.Principal)], ['query']),
    status: I.Func([], [I.Record({
      releases: I.Nat32, current: I.Opt(I.Nat64), chunks: I.Nat64, chunk_bytes: I.Nat64, logical_bytes: I.Nat64,
      garbage_chunks: I.Nat64, authorized: I.Nat32, cycles: I.Nat,
    })], ['query']),
  });
};

export interface FileEntry {
  path: string;
  size: bigint;
  sha256: Uint8Array;
  chunks: Uint8Array[];
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
  put_chunks(uploads: { hash: Uint8Array; data: Uint8Array }[]): Promise<number>;
  missing_chunks(hashes: Uint8Array[]): Promise<Uint8Array[]>;
  get_chunk(hash: Uint8Array): Promise<[] | [Uint8Array]>;
  create_release(r: { label: string; chunk_size: number; files: FileEntry[] }): Promise<bigint>;
  publish(id: bigint): Promise<void>;
  delete_release(id: bigint): Promise<void>;
  gc(limit: number): Promise<{ deleted: number; freed_bytes: bigint; remaining: bigint }>;
  index_certified(): Promise<{ index: Uint8Array; certificate: [] | [Uint8Array] }>;
  manifest(id: bigint): Promise<[] | [Uint8Array]>;
  authorize(p: Principal): Promise<void>;
  deauthorize(p: Principal): Promise<void>;
  authorized(): Promise<Principal[]>;
  status(): Promise<CanisterStatus>;
}

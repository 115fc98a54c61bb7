import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { assertSafeToDecode, CandidGuardError, MAX_NUMBER_BYTES } from './candid_guard.ts';

const encode = (t: IDL.Type, v: unknown): Uint8Array => new Uint8Array(IDL.encode([t], [v]));
const refused = (bytes: Uint8Array): void => assert.throws(() => assertSafeToDecode(bytes), CandidGuardError);
const didl = (...parts: (number[] | Uint8Array)[]): Uint8Array => new Uint8Array([0x44, 0x49, 0x44, 0x4c, ...parts.flatMap((p) => [...p])]);
/** A LEB128 nat of `n` bytes, built by hand: encoding one with @dfinity/candid is as slow as decoding it. */
const longNat = (n: number): Uint8Array => new Uint8Array(n).fill(0xff).fill(0x01, n - 1);

describe('candid guard', () => {
  it('accepts management and ledger arguments, u128 amounts and megabyte blobs', () => {
    const status = IDL.Record({ canister_id: IDL.Principal });
    assertSafeToDecode(encode(status, { canister_id: Principal.fromText('aaaaa-aa') }));
    const chunks = IDL.Record({ chunk_hashes_list: IDL.Vec(IDL.Record({ hash: IDL.Vec(IDL.Nat8) })), mode: IDL.Variant({ install: IDL.Null }) });
    assertSafeToDecode(encode(chunks, { chunk_hashes_list: [{ hash: new Uint8Array(32) }], mode: { install: null } }));
    const transfer = IDL.Record({ amount: IDL.Nat, fee: IDL.Opt(IDL.Int), memo: IDL.Opt(IDL.Vec(IDL.Nat8)), at: IDL.Opt(IDL.Nat64), to: IDL.Text });
    assertSafeToDecode(encode(transfer, { amount: (1n << 128n) - 1n, fee: [-(1n << 127n)], memo: [new Uint8Array(32)], at: [1n << 63n], to: 'ü' }));
    assertSafeToDecode(encode(IDL.Vec(IDL.Nat8), new Uint8Array(2 * 1024 * 1024)));
    assertSafeToDecode(new Uint8Array(IDL.encode([IDL.Nat, IDL.Func([], [], ['query'])], [1n, [Principal.fromText('aaaaa-aa'), 'm']])));
    assertSafeToDecode(didl([0, 1, 0x7d], longNat(MAX_NUMBER_BYTES)));
  });

  it('refuses a nat or int longer than the bound, also where a decoder would skip it', () => {
    refused(didl([0, 1, 0x7d], longNat(MAX_NUMBER_BYTES + 1)));
    refused(didl([0, 1, 0x7c], longNat(100_000)));
    // record { 0: principal; 1: nat } where the expected record has field 0 only.
    refused(didl([1, 0x6c, 2, 0, 0x68, 1, 0x7d, 1, 0], [1, 0], longNat(100_000)));
  });

  it('refuses LEB128 numbers over 10 bytes in the type table and in lengths', () => {
    refused(didl([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0], [0]));
    refused(didl([1, 0x6d], new Uint8Array(10).fill(0xff), [0x7f, 1, 0], [0]));
    refused(didl([0, 1, 0x71], new Uint8Array(11).fill(0x80).fill(0, 10)));
  });

  it('refuses vectors of null, reserved and empty records, even nested', () => {
    refused(encode(IDL.Vec(IDL.Null), []));
    refused(encode(IDL.Vec(IDL.Reserved), []));
    refused(encode(IDL.Vec(IDL.Record({})), []));
    refused(encode(IDL.Vec(IDL.Record({ a: IDL.Null, b: IDL.Record({}) })), []));
    refused(encode(IDL.Record({ x: IDL.Opt(IDL.Vec(IDL.Null)) }), { x: [] }));
    // vec null, its element type written as -1 in 10 bytes: read exactly, as the decoder reads it.
    refused(didl([1, 0x6d], new Uint8Array(9).fill(0xff), [0x7f, 1, 0], [0]));
  });

  it('accepts vectors of records that hold data', () => {
    assertSafeToDecode(encode(IDL.Vec(IDL.Record({ a: IDL.Null, b: IDL.Nat8 })), [{ a: null, b: 1 }]));
  });

  it('refuses more values than the message has bytes for, and endless nesting', () => {
    const wide = IDL.Record(Object.fromEntries([...Array.from({ length: 50 }, (_, i) => [`n${i}`, IDL.Null]), ['x', IDL.Nat8]]));
    const value = Object.fromEntries([...Array.from({ length: 50 }, (_, i) => [`n${i}`, null]), ['x', 1]]);
    refused(encode(IDL.Vec(wide), Array.from({ length: 10_000 }, () => value)));
    // type 0 = record { 0: 0 }: each value holds another, and none takes a byte.
    refused(didl([1, 0x6c, 1, 0, 0], [1, 0]));
  });

  it('refuses what is not Candid, truncated, out of range or opaque', () => {
    refused(new TextEncoder().encode('JSON{}'));
    refused(encode(IDL.Text, 'hello').subarray(0, 10));
    refused(didl([0, 1, 5]));
    refused(didl([1, 0x6b, 1, 0, 0x7f, 1, 0], [1]));
    refused(didl([0, 1, 0x68], [0]));
  });
});

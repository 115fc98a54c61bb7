import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IDL } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { assertNoZeroSizedVectors, CandidGuardError } from './candid_guard.ts';

const encode = (t: IDL.Type, v: unknown): Uint8Array => new Uint8Array(IDL.encode([t], [v]));
const refused = (bytes: Uint8Array): void => assert.throws(() => assertNoZeroSizedVectors(bytes), CandidGuardError);

describe('candid guard', () => {
  it('accepts management arguments', () => {
    const status = IDL.Record({ canister_id: IDL.Principal });
    assertNoZeroSizedVectors(encode(status, { canister_id: Principal.fromText('aaaaa-aa') }));
    const chunks = IDL.Record({ chunk_hashes_list: IDL.Vec(IDL.Record({ hash: IDL.Vec(IDL.Nat8) })), mode: IDL.Variant({ install: IDL.Null }) });
    assertNoZeroSizedVectors(encode(chunks, { chunk_hashes_list: [{ hash: new Uint8Array(32) }], mode: { install: null } }));
  });

  it('refuses vectors of null, reserved and empty records, even nested', () => {
    refused(encode(IDL.Vec(IDL.Null), []));
    refused(encode(IDL.Vec(IDL.Reserved), []));
    refused(encode(IDL.Vec(IDL.Record({})), []));
    refused(encode(IDL.Vec(IDL.Record({ a: IDL.Null, b: IDL.Record({}) })), []));
    refused(encode(IDL.Record({ x: IDL.Opt(IDL.Vec(IDL.Null)) }), { x: [] }));
  });

  it('accepts vectors of records that hold data', () => {
    assertNoZeroSizedVectors(encode(IDL.Vec(IDL.Record({ a: IDL.Null, b: IDL.Nat8 })), []));
  });

  it('refuses what is not Candid', () => {
    refused(new TextEncoder().encode('JSON{}'));
  });
});

// read_state as a replica answers it: the paths each endpoint and version
// serves, who may read what, and the status and text of every refusal
// (dfinity/ic rs/http_endpoints/public/src/read_state.rs). The sources are the
// devnet's own, on a temp dir; answers are checked as an agent reads them.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Cbor, Certificate, lookup_path, lookupResultToBuffer, LookupPathStatus, type HashTree, type NodePath } from '@dfinity/agent';
import { Principal } from '@dfinity/principal';
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex } from '@noble/hashes/utils';
import { withMetadata } from '../canister/metadata.ts';
import { HttpError } from './auth.ts';
import { executionOptions } from './canister.ts';
import { Clock } from './clock.ts';
import { buildTree } from './hashtree.ts';
import { IngressStatus } from './ingress_status.ts';
import { Keys } from './keys.ts';
import { readStateTree, type ApiVersion, type ReadStateTarget, type StateSources } from './read_state.ts';
import { CanisterRegistry } from './registry.ts';

const owner = Principal.selfAuthenticating(Uint8Array.of(1, 2, 3));
const stranger = Principal.selfAuthenticating(Uint8Array.of(4, 5, 6));
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const LONG_PRIVATE = 'p'.repeat(150);
const SECRET = Uint8Array.of(9, 8, 7);
const CANDID = enc('service : {}');
// (module (memory (export "memory") 1)): the least a canister module needs.
const MODULE = Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 0, 1, 7, 10, 1, 6, ...enc('memory'), 2, 0);
const WASM = withMetadata(
  withMetadata(withMetadata(MODULE, 'candid:service', CANDID), 'secret', SECRET, 'private'),
  LONG_PRIVATE, enc('x'), 'private',
);

let dir: string;
let s: StateSources;
let installed: Principal;
let empty: Principal;
/** In the devnet's range, never created. */
let missing: Principal;
let sid: Uint8Array;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'icboot-read-state-'));
  const keys = Keys.loadOrCreate(dir);
  const clock = new Clock();
  const canisters = new CanisterRegistry(dir, () => {}, executionOptions());
  const c = canisters.create(undefined, [owner], 10n ** 14n, clock.now());
  c.install('install', WASM, new Uint8Array(), owner.toUint8Array(), clock.now());
  installed = c.id;
  empty = canisters.create(undefined, [owner], 10n ** 14n, clock.now()).id;
  s = { keys, clock, canisters, ingress: new IngressStatus() };
  sid = keys.subnetId.toUint8Array();
  missing = Principal.fromUint8Array(canisters.ranges[0][1]);
});

after(() => {
  s?.canisters.close();
  rmSync(dir, { recursive: true, force: true });
});

type Label = string | Uint8Array;
const on = (scope: ReadStateTarget['scope'], version: ApiVersion = 'v3', id?: Principal): ReadStateTarget =>
  ({ scope, version, id: id ?? (scope === 'subnet' ? s.keys.subnetId : installed) });
const asPaths = (paths: Label[][]): Uint8Array[][] => paths.map((p) => p.map((l) => (typeof l === 'string' ? enc(l) : l)));

/** The hash tree a read_state of `paths` certifies. */
function read(paths: Label[][], target: ReadStateTarget, sender = owner): HashTree {
  return buildTree(readStateTree(s, asPaths(paths), sender, target)) as unknown as HashTree;
}

function found(tree: HashTree, path: NodePath): Uint8Array {
  const r = lookup_path(path, tree);
  assert.equal(r.status, LookupPathStatus.Found, `${path.map(String).join('/')} should be in the tree`);
  return lookupResultToBuffer(r)!;
}

function absent(tree: HashTree, path: NodePath): void {
  assert.equal(lookup_path(path, tree).status, LookupPathStatus.Absent, `${path.map(String).join('/')} should be proven absent`);
}

/** Fails unless the request is refused with this status and the replica's text. */
function refused(paths: Label[][], target: ReadStateTarget, status: number, text: string | RegExp, sender = owner): void {
  assert.throws(() => readStateTree(s, asPaths(paths), sender, target), (e: unknown) => {
    assert.ok(e instanceof HttpError, `not an HttpError: ${String(e)}`);
    assert.equal(e.status, status);
    if (typeof text === 'string') assert.equal(e.message, text);
    else assert.match(e.message, text);
    return true;
  });
}

const INVALID = 'Invalid path requested.';

describe('read_state on a canister endpoint', () => {
  for (const version of ['v2', 'v3'] as const) {
    it(`${version}: serves time, controllers, module hash and metadata, and always adds time`, () => {
      const id = installed.toUint8Array();
      const t = read([['canister', id, 'controllers'], ['canister', id, 'module_hash'], ['canister', id, 'metadata', 'candid:service']], on('canister', version));
      assert.ok(found(t, ['time']).length > 0);
      assert.deepEqual(Cbor.decode<Uint8Array[]>(found(t, ['canister', id, 'controllers'])), [owner.toUint8Array()]);
      assert.deepEqual(found(t, ['canister', id, 'module_hash']), sha256(WASM));
      assert.deepEqual(found(t, ['canister', id, 'metadata', 'candid:service']), CANDID);
    });
  }

  it('certifies the tree with the root key, as agents verify it', async () => {
    const id = installed.toUint8Array();
    const certificate = s.keys.certify(readStateTree(s, asPaths([['canister', id, 'metadata', 'candid:service']]), owner, on('canister')));
    const cert = await Certificate.create({ certificate, rootKey: s.keys.rootKeyDer, canisterId: installed });
    assert.deepEqual(lookupResultToBuffer(cert.lookup_path(['canister', id, 'metadata', 'candid:service'])), CANDID);
  });

  it('serves a private section to a controller and refuses it to anyone else with 403', () => {
    const id = installed.toUint8Array();
    assert.deepEqual(found(read([['canister', id, 'metadata', 'secret']], on('canister')), ['canister', id, 'metadata', 'secret']), SECRET);
    refused([['canister', id, 'metadata', 'secret']], on('canister'), 403,
      'Custom section secret can only be requested by the controllers of the canister.', stranger);
    refused([['canister', id, 'metadata', 'secret']], on('canister'), 403,
      'Custom section secret can only be requested by the controllers of the canister.', Principal.anonymous());
    // A public section is anyone's.
    assert.deepEqual(found(read([['canister', id, 'metadata', 'candid:service']], on('canister'), stranger), ['canister', id, 'metadata', 'candid:service']), CANDID);
  });

  it('quotes a private section name up to 100 characters in the refusal', () => {
    refused([['canister', installed.toUint8Array(), 'metadata', LONG_PRIVATE]], on('canister'), 403,
      `Custom section ${'p'.repeat(100)} can only be requested by the controllers of the canister.`, stranger);
  });

  it('proves a section that does not exist absent, for anyone', () => {
    const id = installed.toUint8Array();
    absent(read([['canister', id, 'metadata', 'no-such-section']], on('canister'), stranger), ['canister', id, 'metadata', 'no-such-section']);
  });

  it('serves an empty canister\'s controllers and proves its module hash and metadata absent', () => {
    const id = empty.toUint8Array();
    const t = read([['canister', id, 'controllers'], ['canister', id, 'module_hash'], ['canister', id, 'metadata', 'candid:service']], on('canister', 'v3', empty));
    assert.deepEqual(Cbor.decode<Uint8Array[]>(found(t, ['canister', id, 'controllers'])), [owner.toUint8Array()]);
    absent(t, ['canister', id, 'module_hash']);
    absent(t, ['canister', id, 'metadata', 'candid:service']);
  });

  it('proves everything about a canister that does not exist absent', () => {
    const id = missing.toUint8Array();
    const t = read([['canister', id, 'controllers'], ['canister', id, 'module_hash'], ['canister', id, 'metadata', 'secret']], on('canister', 'v3', missing), stranger);
    absent(t, ['canister', id, 'controllers']);
    absent(t, ['canister', id, 'module_hash']);
  });

  it('refuses a canister path for another canister than the URL names, with 400', () => {
    refused([['canister', empty.toUint8Array(), 'controllers']], on('canister'), 400,
      `Effective principal id in URL ${installed.toText()} does not match requested principal id: ${empty.toText()}.`);
    refused([['canister', empty.toUint8Array(), 'metadata', 'candid:service']], on('canister'), 400,
      `Effective principal id in URL ${installed.toText()} does not match requested principal id: ${empty.toText()}.`);
  });

  it('refuses a canister id that is not a principal, with 400', () => {
    refused([['canister', new Uint8Array(30), 'module_hash']], on('canister'), 400, /^Could not parse principal ID: .+\.$/);
  });

  it('refuses a metadata name that is not UTF-8, with 400', () => {
    refused([['canister', installed.toUint8Array(), 'metadata', Uint8Array.of(0xff, 0xfe)]], on('canister'), 400,
      /^Could not parse the custom section name: .+\.$/);
  });

  it('reads a leading BOM in a metadata name as a character: the section named without it is not found', () => {
    const id = installed.toUint8Array();
    const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('secret')]);
    absent(read([['canister', id, 'metadata', bom]], on('canister'), stranger), ['canister', id, 'metadata', bom]);
  });

  it('serves subnet paths, with the ranges at the old path too', () => {
    const nodeId = s.keys.nodeId.toUint8Array();
    const t = read([['subnet', sid, 'public_key'], ['subnet', sid, 'type'], ['subnet', sid, 'node', nodeId, 'public_key'], ['subnet', sid, 'canister_ranges']], on('canister'));
    assert.deepEqual(found(t, ['subnet', sid, 'public_key']), s.keys.rootKeyDer);
    assert.equal(new TextDecoder().decode(found(t, ['subnet', sid, 'type'])), 'application');
    assert.deepEqual(found(t, ['subnet', sid, 'node', nodeId, 'public_key']), s.keys.nodeKeyDer);
    assert.deepEqual(Cbor.decode(found(t, ['subnet', sid, 'canister_ranges'])), s.canisters.ranges);
    for (const path of [['subnet'], ['subnet', sid], ['subnet', sid, 'node'], ['subnet', sid, 'node', nodeId]]) {
      assert.deepEqual(found(read([path], on('canister')), ['subnet', sid, 'public_key']), s.keys.rootKeyDer);
    }
  });

  it('accepts api_boundary_nodes paths and proves them absent (a devnet has none)', () => {
    const n = Uint8Array.of(1);
    const t = read([['api_boundary_nodes'], ['api_boundary_nodes', n], ['api_boundary_nodes', n, 'domain'], ['api_boundary_nodes', n, 'ipv4_address'], ['api_boundary_nodes', n, 'ipv6_address']], on('canister'));
    absent(t, ['api_boundary_nodes']);
    refused([['api_boundary_nodes', n, 'name']], on('canister'), 404, INVALID);
  });

  it('answers malformed and unknown paths with 404', () => {
    const id = installed.toUint8Array();
    const bad: Label[][] = [
      [], [''], ['foo'], ['time', 'x'], ['canister'], ['canister', id], ['canister', id, 'certified_data'],
      ['canister', id, 'controllers', 'x'], ['canister', id, 'metadata'], ['canister', id, 'metadata', 'a', 'b'],
      ['subnet', sid, 'foo'], ['subnet', sid, 'public_key', 'x'], ['subnet', sid, 'node', Uint8Array.of(1), 'foo'],
      ['request_status', new Uint8Array(32), 'foo'], ['request_status'],
      // Paths of the subnet endpoint.
      ['canister_ranges', sid], ['subnet', sid, 'metrics'],
    ];
    for (const path of bad) refused([path], on('canister'), 404, INVALID);
  });

  it('checks every path: one bad path among good ones refuses the request', () => {
    refused([['time'], ['subnet', sid, 'public_key'], ['foo']], on('canister'), 404, INVALID);
  });
});

describe('read_state on the subnet endpoint', () => {
  it('serves the canister ranges as shards, subnet paths and time', () => {
    const t = read([['canister_ranges', sid], ['subnet', sid, 'public_key'], ['subnet', sid, 'metrics'], ['time']], on('subnet'));
    const [[lo]] = s.canisters.ranges;
    assert.deepEqual(Cbor.decode(found(t, ['canister_ranges', sid, lo])), s.canisters.ranges);
    assert.deepEqual(found(t, ['subnet', sid, 'public_key']), s.keys.rootKeyDer);
    absent(t, ['subnet', sid, 'metrics']);
  });

  it('serves /subnet/<sid>/canister_ranges on v2 and, for the root subnet it is, on v3', () => {
    for (const version of ['v2', 'v3'] as const) {
      assert.deepEqual(Cbor.decode(found(read([['subnet', sid, 'canister_ranges']], on('subnet', version)), ['subnet', sid, 'canister_ranges'])), s.canisters.ranges);
    }
  });

  it('answers /subnet/<X>/canister_ranges on v3 with 404 unless X is the root subnet', () => {
    const other = Principal.selfAuthenticating(Uint8Array.of(7)).toUint8Array();
    absent(read([['subnet', other, 'canister_ranges']], on('subnet', 'v2')), ['subnet', other, 'canister_ranges']);
    refused([['subnet', other, 'canister_ranges']], on('subnet', 'v3'), 404, INVALID);
    refused([['subnet', other, 'canister_ranges']], on('canister', 'v3'), 404, INVALID);
  });

  it('refuses subnet metrics of another subnet than the URL names, with 400', () => {
    const other = Principal.selfAuthenticating(Uint8Array.of(7));
    refused([['subnet', other.toUint8Array(), 'metrics']], on('subnet'), 400,
      `Effective principal id in URL ${s.keys.subnetId.toText()} does not match requested principal id: ${other.toText()}.`);
  });

  it('answers canister paths, and request_status on v2, with 404', () => {
    refused([['canister', installed.toUint8Array(), 'controllers']], on('subnet'), 404, INVALID);
    refused([['canister', installed.toUint8Array(), 'metadata', 'candid:service']], on('subnet'), 404, INVALID);
    refused([['request_status', new Uint8Array(32)]], on('subnet', 'v2'), 404, INVALID);
    refused([['canister_ranges']], on('subnet'), 404, INVALID);
    refused([['canister_ranges', sid, Uint8Array.of(1)]], on('subnet'), 404, INVALID);
  });

  it('serves request_status on v3', () => {
    const rid = answered(owner, Uint8Array.of(42));
    assert.equal(new TextDecoder().decode(found(read([['request_status', rid, 'status']], on('subnet', 'v3')), ['request_status', rid, 'status'])), 'replied');
  });
});

/** A request id `sender` sent whose call replied `reply`. */
function answered(sender: Principal, reply: Uint8Array): Uint8Array {
  const rid = sha256(Uint8Array.of(...reply, ...sender.toUint8Array()));
  s.ingress.open(bytesToHex(rid), sender.toText());
  s.ingress.answer(bytesToHex(rid), { status: 'replied', reply });
  return rid;
}

describe('read_state of request status', () => {
  it('serves the sender its request\'s status and reply', () => {
    const rid = answered(owner, Uint8Array.of(1, 2));
    const t = read([['request_status', rid, 'status'], ['request_status', rid, 'reply']], on('canister'));
    assert.equal(new TextDecoder().decode(found(t, ['request_status', rid, 'status'])), 'replied');
    assert.deepEqual(found(t, ['request_status', rid, 'reply']), Uint8Array.of(1, 2));
  });

  it('refuses another sender with 403', () => {
    const rid = answered(owner, Uint8Array.of(3));
    refused([['request_status', rid]], on('canister'), 403, 'The user tries to access Request ID not signed by the caller.', stranger);
  });

  it('proves an unknown request absent', () => {
    const rid = new Uint8Array(32).fill(0xab);
    absent(read([['request_status', rid, 'status']], on('canister'), stranger), ['request_status', rid, 'status']);
  });

  it('refuses a request id that is not 32 bytes, with 400', () => {
    refused([['request_status', new Uint8Array(31)]], on('canister'), 400, 'Invalid request id in paths. Maybe the request ID is not of 32 bytes in length?!');
  });

  it('refuses two different request ids, with 400', () => {
    const a = new Uint8Array(32).fill(1);
    const b = new Uint8Array(32).fill(2);
    read([['request_status', a, 'status'], ['request_status', a, 'reply']], on('canister'));
    refused([['request_status', a], ['request_status', b]], on('canister'), 400,
      `More than one non-unique request ID exists in request_status paths: ${bytesToHex(a)} and ${bytesToHex(b)}.`);
  });
});

describe('read_state bounds', () => {
  it('takes 1000 paths and refuses 1001 with 400, before looking at any path', () => {
    read(Array.from({ length: 1000 }, () => ['time']), on('canister'));
    refused(Array.from({ length: 1001 }, () => ['foo']), on('canister'), 400,
      'Too many paths in read state request: got 1001 paths, but at most 1000 are allowed.');
  });

  it('takes 127 labels and refuses 128 with 400, before looking at any path', () => {
    // 127 labels pass the bound, then fail the path rules: 404, not 400.
    refused([Array.from({ length: 127 }, () => 'time')], on('canister'), 404, INVALID);
    refused([Array.from({ length: 128 }, () => 'time')], on('canister'), 400,
      'At least one path in read state request is too deep: got 128 labels, but at most 127 are allowed.');
  });
});

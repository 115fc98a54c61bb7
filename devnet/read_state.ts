// What a read_state request may ask for, and the state tree that answers it, as
// a replica checks them: the paths each endpoint serves, who may read what
// (request status: its sender; private metadata: controllers), and the codes a
// replica gives for the rest. Anything absent is simply left out of the tree,
// which the certificate then proves absent.
import { Cbor } from '@dfinity/agent';
import { lebEncode } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { bytesToHex } from '@noble/hashes/utils';
import { HttpError } from './auth.ts';
import { compareBytes, label, node, type StateMap, type StateNode } from './hashtree.ts';
import type { CallResult } from './call_result.ts';
import type { Clock } from './clock.ts';
import type { IngressStatus } from './ingress_status.ts';
import type { Keys } from './keys.ts';
import type { CanisterRegistry } from './registry.ts';

export type ApiVersion = 'v2' | 'v3' | 'v4';

/** The endpoint a read_state was posted to: a canister's or the subnet's. */
export type ReadStateTarget = { scope: 'canister' | 'subnet'; id: Principal; version: ApiVersion };

export interface StateSources {
  keys: Keys;
  clock: Clock;
  canisters: CanisterRegistry;
  ingress: IngressStatus;
}

/** The replica's bounds on one read_state request (ic_validator). */
const MAX_PATHS = 1000;
const MAX_PATH_LABELS = 127;
const REQUEST_ID_BYTES = 32;
/** A private section's name is quoted up to this many characters in the refusal. */
const NAME_IN_ERROR_CHARS = 100;

const invalidPath = (): HttpError => new HttpError(404, 'Invalid path requested.');
// A leading BOM is a character like any other: a label that starts with one names nothing the replica knows.
const text = (b: Uint8Array): string => new TextDecoder('utf-8', { ignoreBOM: true }).decode(b);

/** The state tree answering `paths` for `sender`; throws HttpError where a replica refuses the request. */
export function readStateTree(s: StateSources, paths: Uint8Array[][], sender: Principal, target: ReadStateTarget): StateMap {
  if (paths.length > MAX_PATHS) {
    throw new HttpError(400, `Too many paths in read state request: got ${paths.length} paths, but at most ${MAX_PATHS} are allowed.`);
  }
  const deepest = Math.max(0, ...paths.map((p) => p.length));
  if (deepest > MAX_PATH_LABELS) {
    throw new HttpError(400, `At least one path in read state request is too deep: got ${deepest} labels, but at most ${MAX_PATH_LABELS} are allowed.`);
  }
  const root: StateMap = node(['time', leb(s.clock.now())]);
  let requestId: Uint8Array | undefined;
  for (const path of paths) {
    const [head, ...rest] = path;
    if (!head) throw invalidPath();
    switch (text(head)) {
      case 'time':
        if (rest.length > 0) throw invalidPath();
        break;
      case 'subnet':
        subnetPath(s, root, rest, target);
        break;
      case 'canister_ranges': {
        if (target.scope !== 'subnet' || rest.length !== 1) throw invalidPath();
        if (compareBytes(rest[0], s.keys.subnetId.toUint8Array()) === 0) child(root, 'canister_ranges').set(rest[0], rangeShards(s));
        break;
      }
      case 'request_status': {
        const fields = ['status', 'reply', 'reject_code', 'reject_message', 'error_code'];
        if (rest.length < 1 || rest.length > 2 || (rest[1] && !fields.includes(text(rest[1])))) throw invalidPath();
        if (target.scope === 'subnet' && target.version === 'v2') throw invalidPath();
        const id = rest[0];
        if (id.length !== REQUEST_ID_BYTES) throw new HttpError(400, 'Invalid request id in paths. Maybe the request ID is not of 32 bytes in length?!');
        if (requestId && compareBytes(requestId, id) !== 0) {
          throw new HttpError(400, `More than one non-unique request ID exists in request_status paths: ${bytesToHex(requestId)} and ${bytesToHex(id)}.`);
        }
        requestId = id;
        const status = s.ingress.get(bytesToHex(id));
        if (!status) break;
        if (status.sender !== sender.toText()) throw new HttpError(403, 'The user tries to access Request ID not signed by the caller.');
        child(root, 'request_status').set(id, requestNode(status.result));
        break;
      }
      case 'canister':
        if (target.scope !== 'canister') throw invalidPath();
        canisterPath(s, root, rest, sender, target.id);
        break;
      case 'api_boundary_nodes':
        // A one-node devnet has no API boundary nodes: the certificate proves the path absent.
        if (rest.length > 2 || (rest[1] && !['domain', 'ipv4_address', 'ipv6_address'].includes(text(rest[1])))) throw invalidPath();
        break;
      default:
        throw invalidPath();
    }
  }
  return root;
}

function subnetPath(s: StateSources, root: StateMap, rest: Uint8Array[], target: ReadStateTarget): void {
  const [sid, field] = rest;
  if (field) {
    const f = text(field);
    const valid = f === 'node'
      ? rest.length <= 3 || (rest.length === 4 && text(rest[3]) === 'public_key')
      : rest.length === 2 && ['public_key', 'type', 'canister_ranges', 'metrics'].includes(f);
    if (!valid || (f === 'metrics' && target.scope !== 'subnet')) throw invalidPath();
    // Past v2, the old ranges path is served for the root subnet only (which the devnet's is).
    if (f === 'canister_ranges' && target.version !== 'v2' && principalAt(sid).compareTo(s.keys.subnetId) !== 'eq') throw invalidPath();
    if (f === 'metrics') {
      requested(principalAt(sid), target.id);
      // This devnet keeps no subnet metrics: the certificate proves them absent.
      return;
    }
  }
  const own = s.keys.subnetId.toUint8Array();
  if (sid && compareBytes(sid, own) !== 0) return;
  child(root, 'subnet').set(own, subnetNode(s));
}

function canisterPath(s: StateSources, root: StateMap, rest: Uint8Array[], sender: Principal, ecid: Principal): void {
  const [idBytes, field, name] = rest;
  if (!idBytes || !field) throw invalidPath();
  const f = text(field);
  const shape = (f === 'controllers' || f === 'module_hash') ? rest.length === 2 : f === 'metadata' && rest.length === 3;
  if (!shape) throw invalidPath();
  const id = principalAt(idBytes);
  requested(id, ecid);
  const c = s.canisters.find(id);
  const fields = (): StateMap => child(child(root, 'canister'), idBytes);
  if (f === 'controllers') {
    if (c) fields().set(f, Cbor.encode(c.controllers.map((p) => p.toUint8Array())));
    return;
  }
  if (f === 'module_hash') {
    const h = c?.moduleHash;
    if (h) fields().set(f, h);
    return;
  }
  let sectionName: string;
  try {
    sectionName = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(name);
  } catch (e) {
    throw new HttpError(400, `Could not parse the custom section name: ${(e as Error).message}.`);
  }
  const section = c?.metadata(sectionName);
  if (!section) return;
  if (section.visibility === 'private' && !c!.isController(sender.toUint8Array())) {
    throw new HttpError(403, `Custom section ${[...sectionName].slice(0, NAME_IN_ERROR_CHARS).join('')} can only be requested by the controllers of the canister.`);
  }
  child(fields(), 'metadata').set(name, section.content);
}

/** The principal a path label names, refused with 400 as a replica refuses one that is not. */
function principalAt(bytes: Uint8Array): Principal {
  if (bytes.length > 29) throw new HttpError(400, `Could not parse principal ID: a principal has at most 29 bytes, not ${bytes.length}.`);
  return Principal.fromUint8Array(bytes);
}

/** Refuses a path about another canister or subnet than the URL names. */
function requested(id: Principal, effective: Principal): void {
  if (id.toText() !== effective.toText()) {
    throw new HttpError(400, `Effective principal id in URL ${effective.toText()} does not match requested principal id: ${id.toText()}.`);
  }
}

/** Gets or adds the labeled child map `l` of `m`, matching labels bytewise. */
function child(m: StateMap, l: string | Uint8Array): StateMap {
  const bytes = label(l);
  for (const [k, v] of m) {
    if (compareBytes(label(k), bytes) === 0 && v instanceof Map) return v;
  }
  const fresh: StateMap = new Map();
  m.set(l, fresh);
  return fresh;
}

/** The devnet's one subnet: its key, node, type and ranges (kept at the old path too, as a root subnet's are). */
function subnetNode({ keys, canisters }: StateSources): StateMap {
  return node(
    ['canister_ranges', Cbor.encode(canisters.ranges)],
    ['node', node([keys.nodeId.toUint8Array(), node(['public_key', keys.nodeKeyDer])])],
    ['public_key', keys.rootKeyDer],
    ['type', utf8('application')],
  );
}

/** `/canister_ranges/<sid>/<shard>`: the ranges in one shard, labelled by its first canister id. */
function rangeShards({ canisters }: StateSources): StateMap {
  const ranges = canisters.ranges;
  return node([ranges[0][0], Cbor.encode(ranges)]);
}

function requestNode(result: CallResult | undefined): StateNode {
  return result ? statusNode(result) : node(['status', utf8('processing')]);
}

export function statusNode(r: CallResult): StateMap {
  return r.status === 'replied'
    ? node(['status', utf8('replied')], ['reply', r.reply])
    : node(
        ['status', utf8('rejected')],
        ['reject_code', leb(r.code)],
        ['reject_message', utf8(r.message)],
        ['error_code', utf8(r.errorCode)],
      );
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
export const leb = (n: number | bigint): Uint8Array => new Uint8Array(lebEncode(n));

// The IC HTTP interface (status, query, call v2/v3, read_state) in front of the
// replica, in CBOR, with certificates signed by the devnet root key and query
// responses signed by its node key. Bad input is answered with an HTTP error;
// nothing a client sends can stop the server.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Cbor, hashOfMap } from '@dfinity/agent';
import { lebEncode } from '@dfinity/candid';
import { Principal } from '@dfinity/principal';
import { bytesToHex } from '@noble/hashes/utils';
import { HttpError, validate, type Content, type RequestType } from './auth.ts';
import { compareBytes, node, type StateMap, type StateNode } from './hashtree.ts';
import type { CallResult } from './call_result.ts';
import type { Clock } from './clock.ts';
import type { Faults } from './faults.ts';
import type { IngressStatus } from './ingress_status.ts';
import type { Keys } from './keys.ts';
import type { ManagementCanister } from './management.ts';
import type { Queries } from './queries.ts';
import type { CanisterRegistry } from './registry.ts';
import type { Replica } from './replica.ts';

const MAX_INGRESS_BYTES = 2 * 1024 * 1024;
/** Envelope overhead allowed on top of the ingress limit before the body is refused unread. */
const MAX_BODY_BYTES = MAX_INGRESS_BYTES + 256 * 1024;
/** How long a v3 call waits for its answer before degrading to 202 + polling. */
const SYNC_CALL_WAIT_MS = 10_000;
const MANAGEMENT = Principal.managementCanister().toText();

export interface HttpInterfaceOptions {
  keys: Keys;
  clock: Clock;
  canisters: CanisterRegistry;
  queries: Queries;
  replica: Replica;
  ingress: IngressStatus;
  management: ManagementCanister;
  faults: Faults;
  log: (line: string) => void;
}

export function createHttpInterface(o: HttpInterfaceOptions): Server {
  const server = createServer((req, res) => {
    handle(o, req, res).catch((e: unknown) => {
      const err = e instanceof HttpError ? e : new HttpError(500, `internal error: ${(e as Error).message}`);
      if (err.status === 500) o.log(`HTTP ${req.method} ${req.url}: ${(e as Error).stack}`);
      if (!res.headersSent) {
        res.writeHead(err.status, { 'content-type': 'text/plain; charset=utf-8', connection: err.status === 413 ? 'close' : 'keep-alive' });
      }
      // One line for the client: messages from libraries can carry stack frames.
      res.end(err.message.split('\n')[0]);
    });
  });
  server.keepAliveTimeout = 30_000;
  return server;
}

async function handle(o: HttpInterfaceOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://devnet');
  if (url.pathname === '/api/v2/status') {
    if (req.method !== 'GET') throw new HttpError(405, 'status only answers GET');
    return send(res, 200, {
      ic_api_version: '0.18.0',
      impl_version: 'icboot-devnet',
      root_key: o.keys.rootKeyDer,
      replica_health_status: 'healthy',
      certified_height: 0n,
    });
  }
  const m = /^\/api\/(v2|v3)\/(canister|subnet)\/([^/]+)\/(query|call|read_state)$/.exec(url.pathname);
  if (!m) throw new HttpError(404, `no such endpoint: ${url.pathname}`);
  if (req.method !== 'POST') throw new HttpError(405, `${url.pathname} only answers POST`);
  const [, version, scope, id, endpoint] = m;
  let target: Principal;
  try {
    target = Principal.fromText(id);
  } catch {
    throw new HttpError(400, `invalid ${scope} id in URL: ${id}`);
  }
  if (scope === 'subnet' && endpoint !== 'read_state') throw new HttpError(404, `no such endpoint: ${url.pathname}`);
  if (scope === 'canister' && !o.canisters.hostsRange(target)) {
    throw new HttpError(400, `Canister ${target.toText()} does not belong to any subnet of this devnet`);
  }
  const body = await readBody(req);
  await o.faults.delay();
  const request = validate(body, endpoint as RequestType, o.clock.now());
  if (endpoint === 'read_state') return readState(o, res, request.content, request.sender, scope === 'canister' ? target : null);
  const content = request.content as Required<Pick<Content, 'canister_id' | 'method_name' | 'arg'>> & Content;
  const size = content.arg.length + new TextEncoder().encode(content.method_name).length + (content.nonce?.length ?? 0);
  if (size > MAX_INGRESS_BYTES) {
    throw new HttpError(413, `Request ${bytesToHex(request.requestId)} is too large. Message byte size ${size} is larger than the max allowed ${MAX_INGRESS_BYTES}.`);
  }
  const canisterId = Principal.fromUint8Array(content.canister_id);
  const effective = canisterId.toText() === MANAGEMENT ? o.management.target(content.method_name, content.arg) : canisterId;
  if (effective && effective.toText() !== target.toText()) {
    throw new HttpError(400, `Specified CanisterId ${effective.toText()} does not match effective canister id in URL ${target.toText()}`);
  }
  if (endpoint === 'query') {
    if (o.faults.failQuery()) throw new HttpError(503, 'devnet fault injection: query failed');
    const result = o.faults.tamper(content.arg, o.queries.query(canisterId, content.method_name, content.arg, request.sender));
    return sendQuery(o, res, result, request.requestId);
  }
  const early = canisterId.toText() === MANAGEMENT ? null : o.queries.inspect(canisterId, content.method_name, content.arg, request.sender);
  if (early && early.status === 'rejected') {
    return send(res, 200, { reject_code: early.code, reject_message: early.message, error_code: early.errorCode });
  }
  const done = o.replica.submit(request.requestId, canisterId, content.method_name, content.arg, request.sender, body.length);
  if (version === 'v2') {
    res.writeHead(202).end();
    return;
  }
  const result = await Promise.race([done, new Promise<null>((r) => setTimeout(() => r(null), SYNC_CALL_WAIT_MS).unref())]);
  if (!result) {
    res.writeHead(202).end();
    return;
  }
  const certificate = o.keys.certify(node(
    ['request_status', node([request.requestId, statusNode(result)])],
    ['time', leb(o.clock.now())],
  ));
  return send(res, 200, { status: 'replied', certificate });
}

function readState(o: HttpInterfaceOptions, res: ServerResponse, content: Content, sender: Principal, ecid: Principal | null): void {
  const root: StateMap = node(['time', leb(o.clock.now())]);
  const text = (b: Uint8Array | undefined): string => new TextDecoder().decode(b ?? new Uint8Array());
  for (const path of content.paths ?? []) {
    const [head, ...rest] = path;
    switch (text(head)) {
      case 'time':
        break;
      case 'subnet': {
        const sid = o.keys.subnetId.toUint8Array();
        if (rest[0] && compareBytes(rest[0], sid) !== 0) break;
        child(root, 'subnet').set(sid, subnetNode(o));
        break;
      }
      case 'request_status': {
        if (!rest[0]) throw new HttpError(400, 'request_status paths must name a request id');
        const status = o.ingress.get(bytesToHex(rest[0]));
        if (!status) break;
        if (status.sender !== sender.toText()) {
          throw new HttpError(403, `Request ${bytesToHex(rest[0])} was not sent by ${sender.toText()}`);
        }
        child(root, 'request_status').set(rest[0], requestNode(status.result));
        break;
      }
      case 'canister': {
        if (!rest[0] || !rest[1]) throw new HttpError(400, 'canister paths must name a canister and a field');
        const cid = Principal.fromUint8Array(rest[0]);
        if (!ecid || cid.toText() !== ecid.toText()) {
          throw new HttpError(400, `Effective canister id in URL ${ecid?.toText() ?? '(subnet)'} does not match requested canister id: ${cid.toText()}.`);
        }
        const c = o.canisters.find(cid);
        if (!c) break;
        const fields = child(child(root, 'canister'), rest[0]);
        const field = text(rest[1]);
        if (field === 'certified_data') fields.set(field, c.certifiedData);
        else if (field === 'controllers') fields.set(field, Cbor.encode(c.controllers.map((p) => p.toUint8Array())));
        else if (field === 'module_hash') {
          const h = c.moduleHash;
          if (h) fields.set(field, h);
        } else if (field !== 'metadata') throw new HttpError(400, `Invalid path requested: canister/${cid.toText()}/${field}`);
        break;
      }
      default:
        throw new HttpError(400, `Invalid path requested: ${text(head)}`);
    }
  }
  send(res, 200, { certificate: o.keys.certify(root) });
}

/** Gets or adds the labeled child map `l` of `m`, matching labels bytewise. */
function child(m: StateMap, l: string | Uint8Array): StateMap {
  const bytes = typeof l === 'string' ? new TextEncoder().encode(l) : l;
  for (const [k, v] of m) {
    const kb = typeof k === 'string' ? new TextEncoder().encode(k) : k;
    if (compareBytes(kb, bytes) === 0 && v instanceof Map) return v;
  }
  const fresh: StateMap = new Map();
  m.set(l, fresh);
  return fresh;
}

function subnetNode({ keys, canisters }: HttpInterfaceOptions): StateMap {
  return node(
    ['canister_ranges', Cbor.encode(canisters.ranges)],
    ['node', node([keys.nodeId.toUint8Array(), node(['public_key', keys.nodeKeyDer])])],
    ['public_key', keys.rootKeyDer],
  );
}

function requestNode(result: CallResult | undefined): StateNode {
  return result ? statusNode(result) : node(['status', utf8('processing')]);
}

function statusNode(r: CallResult): StateMap {
  return r.status === 'replied'
    ? node(['status', utf8('replied')], ['reply', r.reply])
    : node(
        ['status', utf8('rejected')],
        ['reject_code', leb(r.code)],
        ['reject_message', utf8(r.message)],
        ['error_code', utf8(r.errorCode)],
      );
}

function sendQuery(o: HttpInterfaceOptions, res: ServerResponse, r: CallResult, requestId: Uint8Array): void {
  const timestamp = o.clock.now();
  const fields: Record<string, unknown> = r.status === 'replied'
    ? { status: 'replied', reply: { arg: r.reply } }
    : { status: 'rejected', reject_code: r.code, reject_message: r.message, error_code: r.errorCode };
  const signature = o.keys.signResponse(hashOfMap({ ...fields, timestamp, request_id: requestId }));
  send(res, 200, { ...fields, signatures: [{ timestamp, signature, identity: o.keys.nodeId.toUint8Array() }] });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const bytes = Cbor.encode(body);
  res.writeHead(status, { 'content-type': 'application/cbor', 'content-length': bytes.length });
  res.end(bytes);
}

function readBody(req: IncomingMessage): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) {
    req.resume();
    return Promise.reject(new HttpError(413, `Request body of ${declared} bytes exceeds the ${MAX_BODY_BYTES}-byte limit`));
  }
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, `Request body exceeds the ${MAX_BODY_BYTES}-byte limit`));
        req.destroy();
        return;
      }
      parts.push(chunk);
    });
    req.on('end', () => resolve(new Uint8Array(Buffer.concat(parts))));
    req.on('error', reject);
  });
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const leb = (n: number | bigint): Uint8Array => new Uint8Array(lebEncode(n));

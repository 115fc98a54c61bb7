// The IC HTTP interface in front of the replica, with the routes a replica
// serves today (call v2/v3/v4, query and read_state v2/v3, subnet read_state
// v2/v3), in CBOR, with certificates signed by the devnet root key and query
// responses signed by its node key. Bad input is answered with the replica's
// HTTP error; nothing a client sends can stop the server.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Cbor, hashOfMap } from '@dfinity/agent';
import { Principal } from '@dfinity/principal';
import { bytesToHex } from '@noble/hashes/utils';
import { HttpError, validate, type Content, type RequestType } from './auth.ts';
import { node } from './hashtree.ts';
import type { CallResult } from './call_result.ts';
import { leb, readStateTree, statusNode, type ApiVersion } from './read_state.ts';
import type { Clock } from './clock.ts';
import type { Faults } from './faults.ts';
import type { IngressStatus } from './ingress_status.ts';
import type { Keys } from './keys.ts';
import type { ManagementCanister } from './management.ts';
import type { Queries } from './queries.ts';
import { isManagementCanister, type CanisterRegistry } from './registry.ts';
import type { Replica } from './replica.ts';

const MAX_INGRESS_BYTES = 2 * 1024 * 1024;
/** Envelope overhead allowed on top of the ingress limit before the body is refused unread. */
const MAX_BODY_BYTES = MAX_INGRESS_BYTES + 256 * 1024;
/** How long a v3 or v4 call waits for its answer before degrading to 202 + polling. */
const SYNC_CALL_WAIT_MS = 10_000;

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

/** The replica's routes: which API versions serve each endpoint. */
const ROUTES: Record<string, Partial<Record<RequestType, ApiVersion[]>>> = {
  canister: { call: ['v2', 'v3', 'v4'], query: ['v2', 'v3'], read_state: ['v2', 'v3'] },
  subnet: { read_state: ['v2', 'v3'] },
};

async function handle(o: HttpInterfaceOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://devnet');
  if (url.pathname === '/api/v2/status') {
    if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
    return send(res, 200, {
      ic_api_version: '0.18.0',
      impl_version: 'icboot-devnet',
      root_key: o.keys.rootKeyDer,
      replica_health_status: 'healthy',
      certified_height: 0n,
    });
  }
  const m = /^\/api\/(v\d+)\/(canister|subnet)\/([^/]+)\/(query|call|read_state)$/.exec(url.pathname);
  if (!m || !ROUTES[m[2]][m[4] as RequestType]?.includes(m[1] as ApiVersion)) throw new HttpError(404, 'Endpoint not found.');
  if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
  const [, version, scope, id, endpoint] = m as unknown as [string, ApiVersion, 'canister' | 'subnet', string, RequestType];
  const target = principalInUrl(scope, id);
  if (scope === 'canister' && !o.canisters.hostsRange(target)) {
    throw new HttpError(400, `Canister ${target.toText()} does not belong to any subnet of this devnet`);
  }
  const body = await readBody(req);
  await o.faults.delay();
  const request = validate(body, endpoint, o.clock.now());
  if (endpoint === 'read_state') {
    const tree = readStateTree(o, request.content.paths ?? [], request.sender, { scope, id: target, version });
    return send(res, 200, { certificate: o.keys.certify(tree) });
  }
  const content = request.content as Required<Pick<Content, 'canister_id' | 'method_name' | 'arg'>> & Content;
  const size = content.arg.length + new TextEncoder().encode(content.method_name).length + (content.nonce?.length ?? 0);
  if (size > MAX_INGRESS_BYTES) {
    throw new HttpError(413, `Request ${bytesToHex(request.requestId)} is too large. Message byte size ${size} is larger than the max allowed ${MAX_INGRESS_BYTES}.`);
  }
  const canisterId = Principal.fromUint8Array(content.canister_id);
  const effective = isManagementCanister(canisterId) ? o.management.target(content.method_name, content.arg) : canisterId;
  if (effective && effective.toText() !== target.toText()) {
    throw new HttpError(400, `Specified CanisterId ${effective.toText()} does not match effective canister id in URL ${target.toText()}`);
  }
  if (endpoint === 'query') {
    if (o.faults.failQuery()) throw new HttpError(503, 'devnet fault injection: query failed');
    const result = o.faults.tamper(content.arg, o.queries.query(canisterId, content.method_name, content.arg, request.sender));
    return sendQuery(o, res, result, request.requestId);
  }
  const early = isManagementCanister(canisterId) ? null : o.queries.inspect(canisterId, content.method_name, content.arg, request.sender);
  if (early && early.status === 'rejected') {
    return send(res, 200, { status: 'non_replicated_rejection', reject_code: early.code, reject_message: early.message, error_code: early.errorCode });
  }
  const done = o.replica.submit(request.requestId, canisterId, content.method_name, content.arg, request.sender, body.length);
  if (version === 'v2') {
    res.writeHead(202).end();
    return;
  }
  // v3 and v4 wait for the answer. They differ only in how a delegation lists
  // canister ranges, and the devnet signs without one.
  const result = await Promise.race([done, new Promise<null>((r) => setTimeout(() => r(null), SYNC_CALL_WAIT_MS).unref())]);
  if (!result) {
    res.writeHead(202, { 'content-type': 'text/plain; charset=utf-8' }).end('The call is still running: poll read_state for its status.');
    return;
  }
  const certificate = o.keys.certify(node(
    ['request_status', node([request.requestId, statusNode(result)])],
    ['time', leb(o.clock.now())],
  ));
  return send(res, 200, { status: 'replied', certificate });
}

/** The canister or subnet id in a URL, refused as a replica's router refuses a malformed one. */
function principalInUrl(scope: 'canister' | 'subnet', id: string): Principal {
  try {
    return Principal.fromText(id);
  } catch (e) {
    const why = isBase32(id) ? (e as Error).message : 'Text must be in valid Base32 encoding.';
    throw new HttpError(400, `Invalid URL: Cannot parse \`effective_${scope}_id\` with value \`${id}\`: ${why}`);
  }
}

/** Whether the replica's principal parser can decode `text` at all: RFC 4648 base32, unpadded, dashes ignored. */
function isBase32(text: string): boolean {
  const digits = text.replace(/-/g, '');
  // Unpadded base32 cannot end with 1, 3 or 6 leftover characters.
  return /^[a-z2-7]*$/i.test(digits) && ![1, 3, 6].includes(digits.length % 8);
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.writeHead(405, { allow, 'content-length': 0 }).end();
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


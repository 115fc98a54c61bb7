// Ingress validation as a replica does it: envelope shape, expiry window,
// sender = self-authenticating principal of the key, signature over the request
// id (Ed25519, ECDSA secp256k1 or P-256), optional delegation chains.
import { Cbor, requestIdOf, hashOfMap, unwrapDER, ED25519_OID, SECP256K1_OID } from '@dfinity/agent';
import { Principal } from '@dfinity/principal';
import { ed25519 } from '@noble/curves/ed25519';
import { secp256k1 } from '@noble/curves/secp256k1';
import { p256 } from '@noble/curves/p256';
import { sha256 } from '@noble/hashes/sha2';
import { concatBytes } from '@noble/hashes/utils';

export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export type RequestType = 'call' | 'query' | 'read_state';

export interface Content {
  request_type: RequestType;
  sender: Uint8Array;
  ingress_expiry: bigint;
  canister_id?: Uint8Array;
  method_name?: string;
  arg?: Uint8Array;
  nonce?: Uint8Array;
  paths?: Uint8Array[][];
}

export interface ValidRequest {
  content: Content;
  sender: Principal;
  requestId: Uint8Array;
}

/** The IC accepts expiries up to 5 minutes ahead, plus 30 s of clock drift. */
const MAX_EXPIRY_AHEAD_NS = 330_000_000_000n;
const REQUEST_SEP = sep('ic-request');
const DELEGATION_SEP = sep('ic-request-auth-delegation');
// DER prefix of an ECDSA P-256 SubjectPublicKeyInfo algorithm identifier.
const P256_OID = Uint8Array.from([0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]);

function sep(s: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  return concatBytes(Uint8Array.of(b.length), b);
}

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;
const bad = (message: string): HttpError => new HttpError(400, message);

export function decodeEnvelope(body: Uint8Array, expected: RequestType): { content: Content; envelope: Record<string, unknown> } {
  let envelope: unknown;
  try {
    envelope = Cbor.decode(body);
  } catch (e) {
    throw bad(`Could not parse body as ${expected} message: ${(e as Error).message}`);
  }
  if (!envelope || typeof envelope !== 'object' || Array.isArray(envelope)) throw bad(`Could not parse body as ${expected} message: not a CBOR map`);
  const env = envelope as Record<string, unknown>;
  const c = env.content as Record<string, unknown> | undefined;
  if (!c || typeof c !== 'object') throw bad(`Could not parse body as ${expected} message: missing field \`content\``);
  if (c.request_type !== expected) throw bad(`Could not parse body as ${expected} message: request_type must be "${expected}"`);
  if (!isBytes(c.sender)) throw bad('Could not parse body: sender must be a byte string');
  if (typeof c.ingress_expiry !== 'bigint' && typeof c.ingress_expiry !== 'number') throw bad('Could not parse body: ingress_expiry must be a number');
  if (expected !== 'read_state') {
    if (!isBytes(c.canister_id)) throw bad('Could not parse body: canister_id must be a byte string');
    if (typeof c.method_name !== 'string') throw bad('Could not parse body: method_name must be text');
    if (!isBytes(c.arg)) throw bad('Could not parse body: arg must be a byte string');
    if (c.nonce !== undefined && !isBytes(c.nonce)) throw bad('Could not parse body: nonce must be a byte string');
  } else if (!Array.isArray(c.paths) || !c.paths.every((p) => Array.isArray(p) && p.every(isBytes))) {
    throw bad('Could not parse body: paths must be a list of lists of byte strings');
  }
  return { content: c as unknown as Content, envelope: env };
}

export function validate(body: Uint8Array, expected: RequestType, nowNs: bigint): ValidRequest {
  const { content, envelope } = decodeEnvelope(body, expected);
  const expiry = BigInt(content.ingress_expiry);
  const max = nowNs + MAX_EXPIRY_AHEAD_NS;
  if (expiry < nowNs || expiry > max) {
    throw bad(`Invalid request expiry: Specified ingress_expiry not within expected range: Minimum allowed expiry: ${nowNs}, Maximum allowed expiry: ${max}, Provided expiry: ${expiry}`);
  }
  let sender: Principal;
  try {
    sender = Principal.fromUint8Array(content.sender);
  } catch {
    throw bad('Invalid sender principal');
  }
  const requestId = requestIdOf(content as unknown as Record<string, unknown>);
  const pubkey = envelope.sender_pubkey;
  const sig = envelope.sender_sig;
  if (sender.isAnonymous()) {
    if (pubkey !== undefined || sig !== undefined) throw bad('Invalid signature: anonymous requests must not carry a public key or signature');
    return { content, sender, requestId };
  }
  if (!isBytes(pubkey) || !isBytes(sig)) throw bad(`Invalid signature: request from ${sender.toText()} is missing sender_pubkey or sender_sig`);
  if (!Principal.selfAuthenticating(pubkey).toUint8Array().every((b, i, a) => a.length === content.sender.length && b === content.sender[i])) {
    throw bad(`Invalid signature: sender ${sender.toText()} does not match the public key`);
  }
  let signingKey = pubkey;
  const delegations = envelope.sender_delegation;
  if (delegations !== undefined) {
    if (!Array.isArray(delegations) || delegations.length > 20) throw bad('Invalid delegation: sender_delegation must be a list of at most 20 entries');
    for (const entry of delegations as Record<string, unknown>[]) {
      const d = entry?.delegation as Record<string, unknown> | undefined;
      if (!d || !isBytes(d.pubkey) || !isBytes(entry.signature) || (typeof d.expiration !== 'bigint' && typeof d.expiration !== 'number')) {
        throw bad('Invalid delegation: malformed entry');
      }
      if (BigInt(d.expiration) < nowNs) throw bad('Invalid delegation: delegation has expired');
      if (d.targets !== undefined && content.canister_id) {
        const targets = d.targets as Uint8Array[];
        const id = Principal.fromUint8Array(content.canister_id).toText();
        if (!Array.isArray(targets) || !targets.some((t) => isBytes(t) && Principal.fromUint8Array(t).toText() === id)) {
          throw bad(`Invalid delegation: canister ${id} is not among the delegation's targets`);
        }
      }
      if (!verify(signingKey, concatBytes(DELEGATION_SEP, hashOfMap(d)), entry.signature)) {
        throw bad('Invalid delegation: signature does not verify');
      }
      signingKey = d.pubkey;
    }
  }
  if (!verify(signingKey, concatBytes(REQUEST_SEP, requestId), sig)) {
    throw bad(`Invalid signature: signature of request ${Buffer.from(requestId).toString('hex')} does not verify for ${sender.toText()}`);
  }
  return { content, sender, requestId };
}

function verify(derKey: Uint8Array, message: Uint8Array, sig: Uint8Array): boolean {
  const raw = (oid: Uint8Array): Uint8Array | null => {
    try {
      return unwrapDER(derKey, oid);
    } catch {
      return null;
    }
  };
  try {
    let key: Uint8Array | null;
    if ((key = raw(ED25519_OID))) return ed25519.verify(sig, message, key);
    if ((key = raw(SECP256K1_OID))) return secp256k1.verify(sig, sha256(message), key, { lowS: false });
    if ((key = raw(P256_OID))) return p256.verify(sig, sha256(message), key, { lowS: false });
  } catch {
    return false;
  }
  throw bad('Invalid signature: unsupported public key type (the devnet verifies Ed25519, secp256k1 and P-256 keys)');
}

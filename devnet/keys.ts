// The devnet's identity: a BLS12-381 root key that signs certificates (as the
// NNS root key does on mainnet) and an Ed25519 node key that signs query
// responses. Both persist in the state dir so agents keep trusting a restarted devnet.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bls12_381 } from '@noble/curves/bls12-381';
import { ed25519 } from '@noble/curves/ed25519';
import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils';
import { Cbor, wrapDER, BLS12_381_G2_OID, Ed25519PublicKey } from '@dfinity/agent';
import { Principal } from '@dfinity/principal';
import { buildTree, digest, type StateMap } from './hashtree.ts';

const STATE_ROOT_SEP = concatBytes(Uint8Array.of(13), new TextEncoder().encode('ic-state-root'));
const RESPONSE_SEP = concatBytes(Uint8Array.of(11), new TextEncoder().encode('ic-response'));

export class Keys {
  readonly rootKeyDer: Uint8Array;
  readonly nodeKeyDer: Uint8Array;
  readonly nodeId: Principal;
  readonly subnetId: Principal;

  private constructor(private readonly rootSecret: Uint8Array, private readonly nodeSecret: Uint8Array) {
    this.rootKeyDer = wrapDER(bls12_381.getPublicKeyForShortSignatures(rootSecret), BLS12_381_G2_OID);
    this.nodeKeyDer = Ed25519PublicKey.fromRaw(ed25519.getPublicKey(nodeSecret)).toDer();
    this.nodeId = Principal.selfAuthenticating(this.nodeKeyDer);
    // With no delegation, the agent takes the subnet id to be self-authenticating of the root key.
    this.subnetId = Principal.selfAuthenticating(this.rootKeyDer);
  }

  static loadOrCreate(stateDir: string): Keys {
    const file = join(stateDir, 'keys.json');
    if (existsSync(file)) {
      const saved = JSON.parse(readFileSync(file, 'utf8')) as { root: string; node: string };
      return new Keys(hexToBytes(saved.root), hexToBytes(saved.node));
    }
    const keys = new Keys(bls12_381.utils.randomPrivateKey(), ed25519.utils.randomPrivateKey());
    writeFileSync(file, JSON.stringify({ root: bytesToHex(keys.rootSecret), node: bytesToHex(keys.nodeSecret) }) + '\n', { mode: 0o600 });
    return keys;
  }

  /** A CBOR certificate over `state`, signed directly by the root key (no delegation). */
  certify(state: StateMap): Uint8Array {
    const tree = buildTree(state);
    const signature = bls12_381.signShortSignature(concatBytes(STATE_ROOT_SEP, digest(tree)), this.rootSecret);
    return Cbor.encode({ tree, signature });
  }

  /** Node signature over a query response's representation-independent hash. */
  signResponse(responseHash: Uint8Array): Uint8Array {
    return ed25519.sign(concatBytes(RESPONSE_SEP, responseHash), this.nodeSecret);
  }
}

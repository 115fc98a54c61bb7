// The data certificate a query sees: its canister's certified_data and the
// time, signed by the root key; reused for a while, as signing is slow.
import { lebEncode } from '@dfinity/candid';
import { bytesToHex } from '@noble/hashes/utils';
import type { Canister } from './canister.ts';
import { node } from './hashtree.ts';
import type { Keys } from './keys.ts';

/** How long a data certificate is reused before a fresh one is signed. */
const CERTIFICATE_REUSE_NS = 30_000_000_000n;

export class DataCertificates {
  private readonly cache = new Map<string, { data: string; time: bigint; cert: Uint8Array }>();

  constructor(private readonly keys: Keys) {}

  for(c: Canister): Uint8Array {
    const data = bytesToHex(c.certifiedData);
    const now = BigInt(Date.now()) * 1_000_000n;
    const cached = this.cache.get(c.id.toText());
    if (cached && cached.data === data && now - cached.time < CERTIFICATE_REUSE_NS) return cached.cert;
    const cert = this.keys.certify(node(
      ['canister', node([c.id.toUint8Array(), node(['certified_data', c.certifiedData])])],
      ['time', new Uint8Array(lebEncode(now))],
    ));
    this.cache.set(c.id.toText(), { data, time: now, cert });
    return cert;
  }
}

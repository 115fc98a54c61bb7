// Canister metadata as a replica serves it: a custom section named
// `icp:public NAME` (anyone may read it) or `icp:private NAME` (controllers
// only), appended to the module. `candid:service` is the one clients such as
// icp-cli read to know the interface, as dfx builds embed it.
import { lebEncode } from '@dfinity/candid';

/** `wasm` with one more custom section; the module's meaning is unchanged. */
export function withMetadata(wasm: Uint8Array, name: string, content: Uint8Array, visibility: 'public' | 'private' = 'public'): Uint8Array {
  const sectionName = new TextEncoder().encode(`icp:${visibility} ${name}`);
  const payload = Buffer.concat([lebEncode(sectionName.length), sectionName, content]);
  return new Uint8Array(Buffer.concat([wasm, Uint8Array.of(0), lebEncode(payload.length), payload]));
}

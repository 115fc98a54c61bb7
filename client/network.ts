// --network local|ic|URL → where to send requests and whether to trust a
// fetched root key (only ever for non-mainnet endpoints).
import { UserError } from './errors.ts';

export interface Network {
  /** Name used for canister id records: local, ic, or the URL itself. */
  name: string;
  host: string;
  /** Mainnet's root key is built into the agent; other networks publish theirs. */
  fetchRootKey: boolean;
}

export const LOCAL_URL = 'http://127.0.0.1:4943';
export const MAINNET_URL = 'https://icp-api.io';

/**
 * Outside mainnet the agent trusts the root key the endpoint itself serves, as
 * dfx does; that is only as trustworthy as the endpoint (use loopback or a
 * network you control).
 */
export function resolveNetwork(value = process.env.ICBOOT_NETWORK ?? 'local'): Network {
  if (value === 'local') return { name: 'local', host: LOCAL_URL, fetchRootKey: true };
  if (value === 'ic') return { name: 'ic', host: MAINNET_URL, fetchRootKey: false };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UserError(`--network must be local, ic or an http(s) URL, not "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UserError(`--network URL must be http or https: ${value}`);
  const host = url.origin;
  const mainnet = ['icp-api.io', 'ic0.app', 'icp0.io'].includes(url.hostname);
  return { name: mainnet ? 'ic' : host, host, fetchRootKey: !mainnet };
}

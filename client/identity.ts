// Who signs requests: --pem FILE, --identity NAME (a dfx identity), dfx's
// default identity, or else an icboot identity created on first use.
// Ed25519 and secp256k1 PEM files as dfx writes them are understood.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { AnonymousIdentity, type Identity } from '@dfinity/agent';
import { Ed25519KeyIdentity } from '@dfinity/identity';
import { Secp256k1KeyIdentity } from '@dfinity/identity-secp256k1';
import { UserError } from './errors.ts';

export interface IdentityOptions {
  identity?: string;
  pem?: string;
}

export interface LoadedIdentity {
  identity: Identity;
  /** Where it came from, for messages. */
  source: string;
}

const ED25519_OID = Buffer.from('06032b6570', 'hex');
const SECP256K1_OID = Buffer.from('06052b8104000a', 'hex');

function dfxConfigDir(): string {
  return join(process.env.DFX_CONFIG_ROOT ?? homedir(), '.config', 'dfx');
}

export function icbootConfigDir(): string {
  return join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'icboot');
}

function pemBlocks(text: string): { label: string; der: Buffer }[] {
  const out: { label: string; der: Buffer }[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push({ label: m[1], der: Buffer.from(m[2].replace(/\s+/g, ''), 'base64') });
  return out;
}

/** The 32 bytes following `marker` after `from` in a DER structure. */
function keyAfter(der: Buffer, marker: string, from = 0): Buffer | null {
  const at = der.indexOf(Buffer.from(marker, 'hex'), from);
  if (at < 0) return null;
  const key = der.subarray(at + marker.length / 2, at + marker.length / 2 + 32);
  return key.length === 32 ? key : null;
}

export function identityFromPem(text: string, source: string): Identity {
  const blocks = pemBlocks(text);
  if (blocks.length === 0) throw new UserError(`${source}: no PEM block found`);
  for (const { label, der } of blocks) {
    if (label === 'ENCRYPTED PRIVATE KEY') {
      throw new UserError(`${source}: encrypted PEM files are not supported; export the key unencrypted (dfx identity export NAME)`);
    }
    if (label === 'EC PRIVATE KEY') {
      // SEC1: version 1, then the 32-byte private key.
      const key = keyAfter(der, '0201010420');
      if (key && der.includes(SECP256K1_OID)) return Secp256k1KeyIdentity.fromSecretKey(new Uint8Array(key));
      throw new UserError(`${source}: only secp256k1 EC keys are supported`);
    }
    if (label === 'PRIVATE KEY') {
      const oid = der.indexOf(ED25519_OID);
      if (oid >= 0) {
        const seed = keyAfter(der, '04220420', oid);
        if (seed) return Ed25519KeyIdentity.fromSecretKey(new Uint8Array(seed));
      }
      if (der.includes(SECP256K1_OID)) {
        const key = keyAfter(der, '0201010420');
        if (key) return Secp256k1KeyIdentity.fromSecretKey(new Uint8Array(key));
      }
      throw new UserError(`${source}: unsupported private key type (use Ed25519 or secp256k1)`);
    }
  }
  throw new UserError(`${source}: no private key in PEM file`);
}

function fromFile(path: string, source: string): Identity {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`${source}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return identityFromPem(text, source);
}

function dfxIdentity(name: string): LoadedIdentity {
  if (name === 'anonymous') return { identity: new AnonymousIdentity(), source: 'dfx identity "anonymous"' };
  const pem = join(dfxConfigDir(), 'identity', name, 'identity.pem');
  if (!existsSync(pem)) {
    const encrypted = existsSync(join(dirname(pem), 'identity.pem.encrypted'));
    const stored = existsSync(dirname(pem));
    throw new UserError(encrypted || stored
      ? `dfx identity "${name}" is password-protected or kept in the system keyring; export it (dfx identity export ${name} > key.pem) and pass --pem key.pem`
      : `dfx identity "${name}" not found (looked for ${pem})`);
  }
  return { identity: fromFile(pem, `dfx identity "${name}"`), source: `dfx identity "${name}"` };
}

/** An Ed25519 key as PKCS#8 PEM, as dfx writes it. */
export function ed25519Pem(seed: Uint8Array): string {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64')}\n-----END PRIVATE KEY-----\n`;
}

export function loadIdentity(o: IdentityOptions, notice: (line: string) => void = () => {}): LoadedIdentity {
  if (o.pem) return { identity: fromFile(o.pem, `--pem ${o.pem}`), source: o.pem };
  if (o.identity) return dfxIdentity(o.identity);
  const dfxDefault = join(dfxConfigDir(), 'identity.json');
  if (existsSync(dfxDefault)) {
    let name: string;
    try {
      name = (JSON.parse(readFileSync(dfxDefault, 'utf8')) as { default?: string }).default ?? 'default';
    } catch (e) {
      throw new UserError(`${dfxDefault}: cannot read dfx's default identity (${(e as Error).message}); pass --identity or --pem`);
    }
    return dfxIdentity(name);
  }
  const own = join(icbootConfigDir(), 'identity.pem');
  if (!existsSync(own)) {
    const identity = Ed25519KeyIdentity.generate();
    mkdirSync(dirname(own), { recursive: true, mode: 0o700 });
    try {
      // 'wx': two first runs at once must not replace a key the other already uses.
      writeFileSync(own, ed25519Pem(new Uint8Array(identity.getKeyPair().secretKey).subarray(0, 32)), { mode: 0o600, flag: 'wx' });
      chmodSync(own, 0o600);
      notice(`created a new identity ${identity.getPrincipal().toText()} in ${own}`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  return { identity: fromFile(own, own), source: own };
}

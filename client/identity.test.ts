// PEM files as dfx writes them, made with node:crypto; each identity's principal
// is derived independently, from the public key node:crypto reports.
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Principal } from '@dfinity/principal';
import { UserError } from './errors.ts';
import { identityFromPem, loadIdentity } from './identity.ts';

/** The principal of a key: self-authenticating over its DER public key (SPKI, as the IC encodes it). */
const principalOf = (publicKey: KeyObject): string =>
  Principal.selfAuthenticating(new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }))).toText();

const pem = (label: string, der: Buffer): string => `-----BEGIN ${label}-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END ${label}-----\n`;

const isUserError = (e: unknown): boolean => e instanceof UserError;

describe('identity from PEM', () => {
  const dir = mkdtempSync(join(tmpdir(), 'icboot-identity-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads an Ed25519 key in PKCS#8 ("PRIVATE KEY"), with or without its public key', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const v1 = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    assert.match(v1, /^-----BEGIN PRIVATE KEY-----/);
    assert.equal(identityFromPem(v1, 'test').getPrincipal().toText(), principalOf(publicKey));
    // dfx writes the form that carries the public key too (RFC 8410 OneAsymmetricKey, version 2).
    const seed = (privateKey.export({ format: 'der', type: 'pkcs8' }) as Buffer).subarray(-32);
    const raw = (publicKey.export({ format: 'der', type: 'spki' }) as Buffer).subarray(-32);
    const v2 = Buffer.concat([Buffer.from('3053020101300506032b657004220420', 'hex'), seed, Buffer.from('a123032100', 'hex'), raw]);
    assert.equal(identityFromPem(pem('PRIVATE KEY', v2), 'test').getPrincipal().toText(), principalOf(publicKey));
  });

  it('reads a secp256k1 key in SEC1 ("EC PRIVATE KEY") and in PKCS#8', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
    const sec1 = privateKey.export({ format: 'pem', type: 'sec1' }) as string;
    assert.match(sec1, /^-----BEGIN EC PRIVATE KEY-----/);
    assert.equal(identityFromPem(sec1, 'test').getPrincipal().toText(), principalOf(publicKey));
    const pkcs8 = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    assert.equal(identityFromPem(pkcs8, 'test').getPrincipal().toText(), principalOf(publicKey));
  });

  it('finds the key after an EC PARAMETERS block, as `openssl ecparam -genkey` writes it for dfx identity import', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
    const params = pem('EC PARAMETERS', Buffer.from('06052b8104000a', 'hex'));
    assert.equal(identityFromPem(params + privateKey.export({ format: 'pem', type: 'sec1' }), 'test').getPrincipal().toText(), principalOf(publicKey));
  });

  it('loads --pem FILE', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const path = join(dir, 'ed25519.pem');
    writeFileSync(path, privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const loaded = loadIdentity({ pem: path });
    assert.equal(loaded.identity.getPrincipal().toText(), principalOf(publicKey));
    assert.equal(loaded.source, path);
  });

  it('refuses what it cannot use, as a UserError', () => {
    const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    const ed = generateKeyPairSync('ed25519').privateKey;
    const bad: [string, string][] = [
      ['empty', ''],
      ['no PEM block', 'not a key\n'],
      ['a certificate only', pem('CERTIFICATE', Buffer.from('3003020101', 'hex'))],
      ['P-256 in SEC1', p256.export({ format: 'pem', type: 'sec1' }) as string],
      ['P-256 in PKCS#8', p256.export({ format: 'pem', type: 'pkcs8' }) as string],
      ['RSA', rsa.export({ format: 'pem', type: 'pkcs8' }) as string],
      ['encrypted', ed.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'secret' }) as string],
      ['Ed25519 cut short', pem('PRIVATE KEY', (ed.export({ format: 'der', type: 'pkcs8' }) as Buffer).subarray(0, 30))],
    ];
    for (const [name, text] of bad) assert.throws(() => identityFromPem(text, 'test'), isUserError, name);
    assert.throws(() => loadIdentity({ pem: join(dir, 'missing.pem') }), isUserError);
  });
});

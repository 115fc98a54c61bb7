// The documents icboot certifies, shared by the canister and its readers.
// A release's manifest lists each file with its size, SHA-256 and ordered
// chunk hashes. The index lists every release with its manifest's SHA-256 and
// names the current one; certified_data is SHA-256(index bytes). A reader that
// verifies the certificate can so verify the index, any manifest, any chunk.
// Both are JSON in UTF-8, written with every non-ASCII character escaped, so
// the canister can turn them into bytes natively (canister/src/text.ts); it
// serves the exact bytes it hashed.

import { chunkCount } from './chunks.ts';
import { isObject } from './json.ts';

export const MANIFEST_VERSION = 1;

export interface ManifestFile {
  path: string;
  size: number;
  /** SHA-256 of the whole file, hex. */
  sha256: string;
  /** SHA-256 of each chunk in file order, hex. All but the last are `chunk_size` bytes. */
  chunks: string[];
}

export interface Manifest {
  version: number;
  id: number;
  label: string;
  author: string;
  /** Creation time, nanoseconds since the epoch, as a decimal string. */
  created: string;
  chunk_size: number;
  files: ManifestFile[];
}

export interface ReleaseSummary {
  id: number;
  label: string;
  author: string;
  created: string;
  files: number;
  bytes: number;
  /** SHA-256 of the manifest bytes, hex. */
  manifest_sha256: string;
}

export interface Index {
  version: number;
  current: number | null;
  releases: ReleaseSummary[];
}

/** The document as JSON text, ASCII only: other characters are written as \u escapes. */
export function jsonText(doc: Manifest | Index): string {
  return JSON.stringify(doc).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function encodeJson(doc: Manifest | Index): Uint8Array {
  return new TextEncoder().encode(jsonText(doc));
}

export class ManifestError extends Error {}

const HEX64 = /^[0-9a-f]{64}$/;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

export function decodeIndex(bytes: Uint8Array): Index {
  const doc = parse(bytes, 'index');
  if (doc.version !== MANIFEST_VERSION) throw new ManifestError(`unsupported index version ${String(doc.version)}`);
  if (doc.current !== null && !isCount(doc.current)) throw new ManifestError('index: bad current release');
  if (!Array.isArray(doc.releases)) throw new ManifestError('index: releases must be a list');
  for (const r of doc.releases as unknown[]) {
    if (!isObject(r) || !isCount(r.id) || typeof r.label !== 'string' || typeof r.author !== 'string'
      || typeof r.created !== 'string' || !isCount(r.files) || !isCount(r.bytes)
      || typeof r.manifest_sha256 !== 'string' || !HEX64.test(r.manifest_sha256)) {
      throw new ManifestError('index: malformed release entry');
    }
  }
  return doc as unknown as Index;
}

export function decodeManifest(bytes: Uint8Array): Manifest {
  const doc = parse(bytes, 'manifest');
  if (doc.version !== MANIFEST_VERSION) throw new ManifestError(`unsupported manifest version ${String(doc.version)}`);
  if (!isCount(doc.id) || typeof doc.label !== 'string' || typeof doc.author !== 'string' || typeof doc.created !== 'string'
    || !isCount(doc.chunk_size) || doc.chunk_size === 0 || !Array.isArray(doc.files)) {
    throw new ManifestError('manifest: malformed header');
  }
  const chunkSize = doc.chunk_size;
  for (const f of doc.files as unknown[]) {
    if (!isObject(f) || typeof f.path !== 'string' || !isCount(f.size) || typeof f.sha256 !== 'string'
      || !HEX64.test(f.sha256) || !Array.isArray(f.chunks) || !f.chunks.every((c) => typeof c === 'string' && HEX64.test(c))) {
      throw new ManifestError('manifest: malformed file entry');
    }
    if (f.chunks.length !== chunkCount(f.size, chunkSize)) {
      throw new ManifestError(`manifest: ${f.path} has ${f.chunks.length} chunks for ${f.size} bytes`);
    }
  }
  return doc as unknown as Manifest;
}

function parse(bytes: Uint8Array, what: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new ManifestError(`${what} is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(doc)) throw new ManifestError(`${what} is not a JSON object`);
  return doc;
}

// A module's metadata: its `icp:public NAME` and `icp:private NAME` custom
// sections, checked at install by the replica's rules, served by read_state at
// canister/<id>/metadata/NAME.
import { Reader, sections, SEC, WasmError } from './metering/binary.ts';

export type MetadataVisibility = 'public' | 'private';

export interface MetadataSection {
  visibility: MetadataVisibility;
  content: Uint8Array;
}

/** The replica's bounds on a module's metadata (rs/config embedders.rs). */
export const MAX_METADATA_SECTIONS = 16;
export const MAX_METADATA_BYTES = 1024 * 1024;

/** Splits an `icp:` section name into visibility and name; null for sections that are not metadata. */
function scopeOf(sectionName: string): [MetadataVisibility, string] | null {
  if (!sectionName.startsWith('icp:')) return null;
  for (const visibility of ['public', 'private'] as const) {
    const prefix = `icp:${visibility} `;
    if (sectionName.startsWith(prefix)) return [visibility, sectionName.slice(prefix.length)];
  }
  if (sectionName === 'icp:public' || sectionName === 'icp:private') {
    throw new WasmError(`Invalid custom section: '${sectionName}' needs a space and a name after its scope`);
  }
  throw new WasmError(`Invalid custom section: Custom section '${sectionName}' has no public/private scope defined.`);
}

/**
 * The metadata of an uncompressed module, by name. At install (`strict`) a
 * section a replica refuses throws WasmError; a module restored from disk was
 * accepted once, so such sections are skipped and the canister is kept.
 */
export function readMetadata(wasm: Uint8Array, strict = true): Map<string, MetadataSection> {
  const out = new Map<string, MetadataSection>();
  let total = 0;
  const refuse = (message: string): void => {
    if (strict) throw new WasmError(message);
  };
  for (const s of sections(wasm)) {
    if (s.id !== SEC.custom) continue;
    const r = new Reader(wasm, s.start, s.end);
    let scoped: [MetadataVisibility, string] | null;
    try {
      scoped = scopeOf(r.name());
    } catch (e) {
      if (strict || !(e instanceof WasmError)) throw e;
      continue;
    }
    if (!scoped) continue;
    const [visibility, name] = scoped;
    if (out.has(name)) {
      refuse(`Invalid custom section: name ${name} already exists`);
      continue;
    }
    const content = wasm.slice(r.p, s.end);
    const size = content.length + new TextEncoder().encode(name).length;
    if (total + size > MAX_METADATA_BYTES) {
      refuse(`Invalid custom sections: total size of the custom sections exceeds the maximum allowed: size ${total + size} bytes, allowed ${MAX_METADATA_BYTES} bytes`);
      continue;
    }
    if (out.size === MAX_METADATA_SECTIONS) {
      refuse(`Wasm module defined ${out.size + 1} custom sections which exceeds the maximum number allowed ${MAX_METADATA_SECTIONS}.`);
      continue;
    }
    total += size;
    out.set(name, { visibility, content });
  }
  return out;
}

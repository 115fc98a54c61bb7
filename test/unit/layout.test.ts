// The folders' dependency rules (docs/development.md), checked on every
// relative import in the repository, so a shortcut across rooms fails here
// rather than in review.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** Which top-level rooms each room may import from (besides itself). */
const ALLOWED: Record<string, string[]> = {
  common: [],
  canister: ['common'],
  client: ['common', 'canister'],
  devnet: ['common'],
  uploader: ['common', 'client'],
  gateway: ['common', 'client'],
  libvirt: ['common'],
  cli: ['common', 'client', 'canister', 'uploader', 'gateway', 'devnet', 'libvirt'],
  lab: ['common', 'client', 'cli', 'gateway', 'libvirt'],
  test: ['common', 'client', 'canister', 'uploader', 'gateway', 'devnet', 'libvirt', 'cli', 'lab'],
  bench: ['common', 'client', 'canister', 'uploader', 'gateway', 'devnet', 'cli', 'lab'],
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.name === 'node_modules' || e.name.startsWith('.')) return [];
    const path = join(dir, e.name);
    return e.isDirectory() ? sources(path) : e.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every relative import of every source file, as repo-relative paths. */
function imports(): { from: string; to: string }[] {
  return Object.keys(ALLOWED).flatMap((room) => sources(join(REPO, room))).flatMap((file) => {
    const text = readFileSync(file, 'utf8');
    return [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => ({
      from: relative(REPO, file), to: relative(REPO, resolve(dirname(file), m[1])),
    }));
  });
}

const room = (path: string): string => path.split('/')[0];
const testOnly = (path: string): boolean => /\.test\.ts$/.test(path) || path.includes('/fixtures/');

describe('folder dependencies', () => {
  const all = imports();

  it('finds the imports it checks', () => {
    assert.ok(all.length > 100, `only ${all.length} imports found`);
  });

  it('each room imports only the rooms below it', () => {
    // Tests and fixture recorders may drive anything (e.g. the devnet's real keys sign recorded certificates).
    const wrong = all.filter(({ from, to }) => !testOnly(from) && room(from) !== room(to) && !ALLOWED[room(from)].includes(room(to)));
    assert.deepEqual(wrong, []);
  });

  it('the TFTP server knows only its own folder and the gateway log', () => {
    const wrong = all.filter(({ from, to }) => from.startsWith('gateway/tftp/') && !testOnly(from)
      && !to.startsWith('gateway/tftp/') && to !== 'gateway/log.ts');
    assert.deepEqual(wrong, []);
  });

  it('the DHCP server knows only its own folder, common/ and the gateway log', () => {
    const wrong = all.filter(({ from, to }) => from.startsWith('gateway/dhcp/') && !testOnly(from)
      && !to.startsWith('gateway/dhcp/') && !to.startsWith('common/') && to !== 'gateway/log.ts');
    assert.deepEqual(wrong, []);
  });

  it('what the canister bundles stays free of Node APIs', () => {
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(join(REPO, file), 'utf8');
      assert.doesNotMatch(text, /from '(node:|fs'|path'|crypto')/, `${file} imports a Node module`);
      for (const { from, to } of all) if (from === file) visit(to);
    };
    visit('canister/src/index.ts');
    assert.ok(seen.has('common/manifest.ts'));
  });

  it('no module imports itself through a cycle', () => {
    const edges = all.filter(({ from }) => !testOnly(from));
    const next = (f: string): string[] => edges.filter((e) => e.from === f).map((e) => e.to);
    const cycle = (start: string): boolean => {
      const stack = [...next(start)];
      const seen = new Set<string>();
      while (stack.length) {
        const f = stack.pop()!;
        if (f === start) return true;
        if (!seen.has(f)) { seen.add(f); stack.push(...next(f)); }
      }
      return false;
    };
    assert.deepEqual([...new Set(edges.map((e) => e.from))].filter(cycle), []);
  });
});

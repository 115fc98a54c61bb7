// The check `npm test` runs first (test/prerequisites.ts), on PATHs built for
// the test, and the one package list it keeps against the README and CI.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO } from '../../lab/devnet.ts';
import { run } from '../../lab/process.ts';
import { missingPackages, PREREQUISITES, verdict, type Prerequisite } from '../prerequisites.ts';

const programs = PREREQUISITES.filter((p) => !p.need.startsWith('/'));

/** A directory holding an executable file for each name. */
function binDir(names: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'icboot-path-'));
  for (const name of names) {
    writeFileSync(join(dir, name), '#!/bin/sh\n');
    chmodSync(join(dir, name), 0o755);
  }
  return dir;
}

describe('test prerequisites', () => {
  it('names the package of every program missing from PATH', () => {
    assert.deepEqual(missingPackages({ path: binDir([]), root: true }, programs), programs.map((p) => p.apt));
  });

  it('finds programs in any PATH entry, and only executable ones', () => {
    const some = binDir(['curl', 'atftp']);
    const rest = binDir(programs.map((p) => p.need).filter((n) => n !== 'curl' && n !== 'atftp' && n !== 'tftp'));
    writeFileSync(join(rest, 'tftp'), 'not executable');
    assert.deepEqual(missingPackages({ path: `${some}::${rest}`, root: true }, programs), ['tftp-hpa']);
  });

  it('checks files by absolute path and names each package once', () => {
    const file = join(binDir(['x']), 'x');
    const list: Prerequisite[] = [{ need: file, apt: 'a' }, { need: '/nonexistent/icboot/file', apt: 'b' }, { need: 'nonexistent-icboot-tool', apt: 'b' }];
    assert.deepEqual(missingPackages({ path: '', root: true }, list), ['b']);
  });

  it('says nothing when all is there, and one line otherwise', () => {
    const all = binDir(programs.map((p) => p.need));
    assert.equal(verdict({ path: all, root: true }, programs), null);
    const line = verdict({ path: binDir([]), root: false }, programs);
    assert.ok(line !== null);
    assert.equal(line.split('\n').length, 1);
    for (const p of programs) assert.ok(line.includes(p.apt), `${p.apt} is named`);
    assert.equal(verdict({ path: all, root: false }, programs)?.includes('root'), true);
  });

  it('as npm runs it: exits 1 with one line on stderr when PATH lacks the tools', async () => {
    const r = await run(process.execPath, ['--import', 'tsx', join(REPO, 'test', 'prerequisites.ts')], {
      cwd: REPO, env: { ...process.env, PATH: binDir([]) }, timeoutMs: 60_000,
    });
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.equal(r.stdout.length, 0);
  });

  it('is the list the README\'s Quick start installs, and CI installs it too', () => {
    const packages = PREREQUISITES.map((p) => p.apt).sort();
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8').split('\n## Quick start\n')[1]?.split('\n## ')[0] ?? '';
    const apt = /apt-get install -y ([^\n#]+)/.exec(readme)?.[1].trim().split(/\s+/) ?? [];
    assert.deepEqual([...apt].sort(), packages);
    const ci = /packages=\(([^)]*)\)/.exec(readFileSync(join(REPO, '.ci', 'run'), 'utf8'))?.[1].split(/\s+/).filter(Boolean) ?? [];
    assert.deepEqual(packages.filter((p) => !ci.includes(p)), []);
  });
});

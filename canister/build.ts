// Builds an Azle canister declared in a dfx.json, offline, as `dfx build` would:
// `azle build NAME` in the project directory with CANISTER_CANDID_PATH set,
// then the generated interface embedded as `candid:service` metadata.
// Skips the build when the wasm is newer than every source.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withMetadata } from './metadata.ts';

export interface BuildResult {
  wasm: string;
  /** The Candid interface azle generated from the sources. */
  candid: string;
  built: boolean;
}

export class BuildError extends Error {}

interface DfxJson {
  canisters?: Record<string, { type?: string; main?: string }>;
}

/**
 * The newest modification time among the project files the canister's bundle
 * is made of, as esbuild (azle's bundler, resolved from azle) follows imports.
 */
async function newestSource(azleDir: string, dir: string, main: string): Promise<number> {
  const esbuild = createRequire(join(azleDir, 'package.json'))('esbuild') as typeof import('esbuild');
  const { metafile } = await esbuild.build({
    entryPoints: [join(dir, main)], absWorkingDir: dir, bundle: true, write: false, metafile: true,
    packages: 'external', format: 'esm', platform: 'neutral', logLevel: 'silent',
  });
  return Math.max(...Object.keys(metafile.inputs).map((f) => statSync(resolve(dir, f)).mtimeMs));
}

/** azle exports no package.json, so walk up from its entry point. */
function packageRoot(entry: string): string {
  for (let d = dirname(entry); d !== dirname(d); d = dirname(d)) {
    if (existsSync(join(d, 'package.json')) && existsSync(join(d, 'src', 'build.ts'))) return d;
  }
  throw new BuildError(`cannot locate the azle package from ${entry}`);
}

/** Where azle writes canister `name`'s wasm in project `dir`. */
export function azleWasmPath(dir: string, name: string): string {
  return join(resolve(dir), '.azle', name, `${name}.wasm`);
}

export async function buildAzleCanister(projectDir: string, name: string, opts: { force?: boolean } = {}): Promise<BuildResult> {
  const dir = resolve(projectDir);
  const dfxPath = join(dir, 'dfx.json');
  if (!existsSync(dfxPath)) throw new BuildError(`no dfx.json in ${dir}`);
  const dfx = JSON.parse(readFileSync(dfxPath, 'utf8')) as DfxJson;
  const canister = dfx.canisters?.[name];
  if (!canister || canister.type !== 'azle' || !canister.main) {
    throw new BuildError(`${dfxPath} has no azle canister named "${name}" with a "main" entry`);
  }
  const wasm = azleWasmPath(dir, name);
  // Generated beside the wasm, so a build never rewrites a committed .did file.
  const candid = join(dir, '.azle', name, `${name}.did`);
  const azleDir = packageRoot(createRequire(import.meta.url).resolve('azle'));
  // The recipe is a source too: a module built by an older build.ts may lack what this one adds.
  const recipe = ['build.ts', 'metadata.ts'].map((f) => statSync(fileURLToPath(new URL(f, import.meta.url))).mtimeMs);
  const sources = Math.max(await newestSource(azleDir, dir, canister.main), statSync(dfxPath).mtimeMs, ...recipe);
  if (!opts.force && existsSync(wasm) && statSync(wasm).mtimeMs >= sources) return { wasm, candid, built: false };

  const output: Buffer[] = [];
  const code = await new Promise<number | null>((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(azleDir, 'src', 'build.ts'), 'build', name], {
      cwd: dir,
      env: { ...process.env, CANISTER_CANDID_PATH: candid },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (b: Buffer) => output.push(b));
    child.stderr.on('data', (b: Buffer) => output.push(b));
    child.on('error', fail);
    child.on('close', done);
  });
  if (code !== 0 || !existsSync(wasm)) {
    throw new BuildError(`azle build ${name} failed (exit ${code}):\n${Buffer.concat(output).toString().trim()}`);
  }
  writeFileSync(wasm, withMetadata(readFileSync(wasm), 'candid:service', readFileSync(candid)));
  return { wasm, candid, built: true };
}

// icp-cli's build step for the icboot canister (icp.yaml):
//   node --import tsx canister/build_wasm.ts "$ICP_WASM_OUTPUT_PATH"
// writes the module `icboot deploy` installs to the path given.
import { writeFileSync } from 'node:fs';
import { icbootModule } from './icboot_module.ts';

const out = process.argv[2];
if (!out) {
  console.error('usage: build_wasm.ts OUTPUT_PATH (icp-cli passes $ICP_WASM_OUTPUT_PATH)');
  process.exit(2);
}
try {
  const { module, wasm, built } = await icbootModule();
  writeFileSync(out, module);
  console.error(`${built ? 'built' : 'up to date'}: ${wasm} (${module.length} bytes gzipped) -> ${out}`);
} catch (e) {
  console.error((e as Error).message);
  process.exit(1);
}

// Type-checks the programs of canister/tsconfig.json. azle ships its library as
// TypeScript written for Node's types, which the canister's program leaves out;
// like skipLibCheck for declaration files, a dependency's own diagnostics are
// not ours to report.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const configPath = join(dirname(fileURLToPath(import.meta.url)), 'tsconfig.json');
const host: ts.FormatDiagnosticsHost = {
  getCanonicalFileName: (f) => f, getCurrentDirectory: ts.sys.getCurrentDirectory, getNewLine: () => ts.sys.newLine,
};
const config = ts.getParsedCommandLineOfConfigFile(configPath, undefined, {
  ...ts.sys,
  onUnRecoverableConfigFileDiagnostic: (d) => {
    throw new Error(ts.formatDiagnostic(d, host));
  },
})!;
const program = ts.createProgram({ rootNames: config.fileNames, options: config.options });
const diagnostics = [...config.errors, ...ts.getPreEmitDiagnostics(program)]
  .filter((d) => d.file === undefined || !program.isSourceFileFromExternalLibrary(d.file));
if (diagnostics.length > 0) {
  const format = ts.sys.writeOutputIsTTY?.() ? ts.formatDiagnosticsWithColorAndContext : ts.formatDiagnostics;
  process.stderr.write(format(diagnostics, host));
  process.exitCode = 1;
}

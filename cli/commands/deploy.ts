// `icboot deploy`: build, create and install or upgrade the canister.
import { Option, type Command } from 'commander';
import { connect, type CommonOptions } from '../../client/canister.ts';
import { deploy, type DeployMode } from '../../client/deploy.ts';
import { canisterCommand, notice, where } from '../canister_command.ts';
import { example } from '../help.ts';
import { jsonOption, origin, printJson } from '../json.ts';

export function register(program: Command): void {
  const command = canisterCommand(program, 'deploy', 'build the icboot canister if needed, create it on first deploy, install or upgrade it')
    .addOption(new Option('--mode <mode>', 'install mode').choices(['auto', 'install', 'upgrade', 'reinstall']).default('auto'))
    .addOption(jsonOption())
    .action(async (o: CommonOptions & { mode: DeployMode; json?: boolean }) => {
      const c = await connect(o, notice);
      const r = await deploy(c, o.mode, o.canister, notice);
      notice(`${r.action === 'unchanged' ? 'module unchanged' : r.action} on ${where(c)}`);
      if (o.json) {
        printJson({ ...origin(c, r.canisterId), action: r.action, created: r.created, built: r.built });
      } else {
        process.stdout.write(`${r.canisterId.toText()}\n`);
      }
    });
  example(command, 'icboot deploy                  # on the devnet: creates the canister, records its id', 'icboot deploy --network ic --canister ID');
}

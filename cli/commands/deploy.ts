// `icboot deploy`: build, create and install or upgrade the canister.
import { Option, type Command } from 'commander';
import { connect, type CommonOptions } from '../../client/canister.ts';
import { deploy, type DeployMode } from '../../client/deploy.ts';
import { canisterCommand, notice, where } from '../canister_command.ts';

export function register(program: Command): void {
  canisterCommand(program, 'deploy', 'build the icboot canister if needed, create it on first deploy, install or upgrade it')
    .addOption(new Option('--mode <mode>', 'install mode').choices(['auto', 'install', 'upgrade', 'reinstall']).default('auto'))
    .action(async (o: CommonOptions & { mode: DeployMode }) => {
      const c = await connect(o, notice);
      const r = await deploy(c, o.mode, o.canister, notice);
      notice(`${r.action === 'unchanged' ? 'module unchanged' : r.action} on ${where(c)}`);
      process.stdout.write(`${r.canisterId.toText()}\n`);
    });
}

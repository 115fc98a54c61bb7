// Every command's --help, as a user reads it: human defaults and an example.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Command } from 'commander';
import { program } from './main.ts';

/** The whole help text, including what addHelpText adds after the flags. */
function helpOf(command: Command): string {
  let text = '';
  command.configureOutput({ writeOut: (s) => { text += s; } });
  command.outputHelp();
  return text;
}

/** A default or value printed as the program holds it rather than as a user types it. */
const RAW = /\{"|\bnull\b|\bundefined\b|\d{7,}|default: \[\]|default: ""/;

describe('help', () => {
  const root = program();
  const commands = [root, ...root.commands];

  it('lists every command', () => {
    assert.deepEqual(root.commands.map((c) => c.name()), [
      'devnet', 'sample', 'libvirt-network', 'gateway', 'deploy', 'upload', 'machines', 'ls', 'cat', 'releases', 'publish', 'delete',
      'authorize', 'deauthorize', 'status',
    ]);
  });

  for (const command of commands) {
    const name = command === root ? 'icboot' : `icboot ${command.name()}`;
    it(`${name} shows no raw default`, () => {
      const raw = RAW.exec(helpOf(command));
      assert.equal(raw, null, `${name} --help shows ${raw?.[0]}`);
    });
    it(`${name} shows an example of itself`, () => {
      assert.match(helpOf(command), new RegExp(`\\nExample:\\n  \\$ ${name === 'icboot' ? 'icboot ' : `${name}\\b`}`));
    });
  }

  it('shows the upload defaults as a user would write them', () => {
    const upload = helpOf(root.commands.find((c) => c.name() === 'upload')!);
    assert.match(upload, /--label <text> +release label \(default: the directory's name\)/);
    assert.match(upload, /\(suffixes K, M\) \(default: 1M\)/);
  });
});

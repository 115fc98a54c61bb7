// The README's "Boot a libvirt guest" gives the commands the libvirt e2e test
// runs; this keeps the two from drifting apart (names and paths aside).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO } from '../../lab/devnet.ts';
import { APPLY, APPLY_IPXE, LIBVIRT_BRIDGE_IP, REVERT, virtInstallArgs } from '../../lab/libvirt.ts';
import { gatewayArgs } from '../../lab/pxe.ts';

/** The section's shell commands, continuation lines joined and comments dropped, as argument lists. */
function libvirtCommands(): string[][] {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const section = readme.split('\n## Boot a libvirt guest\n')[1]?.split('\n## ')[0];
  assert.ok(section, 'the README has a "Boot a libvirt guest" section');
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block, 'with a sh block');
  const commands = block.replace(/\\\n\s*/g, ' ').split('\n').map((l) => l.replace(/\s+#.*$/, '').trim()).filter(Boolean).map((l) => l.split(/\s+/));
  // The undo line and the --ipxe variant sit in the prose after the block.
  const undo = [...section.matchAll(/`(npx icboot [^`]+)`/g)].map((m) => m[1].split(/\s+/));
  return [...commands, ...undo];
}

describe('README: Boot a libvirt guest', () => {
  const commands = libvirtCommands();
  const has = (expected: string[]): void => {
    assert.ok(commands.some((c) => c.join(' ') === expected.join(' ')), `the README runs \`${expected.join(' ')}\`, as the e2e test does; it has:\n${commands.map((c) => c.join(' ')).join('\n')}`);
  };

  it('edits and restores the network as the test does', () => {
    has(['npx', 'icboot', ...APPLY]);
    has(['npx', 'icboot', ...APPLY_IPXE]);
    has(['npx', 'icboot', ...REVERT]);
  });

  it('runs the gateway as the test does', () => {
    has(['npx', 'icboot', ...gatewayArgs(LIBVIRT_BRIDGE_IP, '/var/cache/icboot')]);
  });

  it('starts the guest with the test\'s virt-install flags', () => {
    has(['virt-install', ...virtInstallArgs('pxe-test', '/tmp/pxe-test.log')]);
  });
});

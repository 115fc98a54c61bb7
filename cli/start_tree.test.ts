import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { missingSamplePackages } from './sample.ts';
import { chooseTree, qemuCommand } from './start_tree.ts';

const ALL = ['debian-installer-12-netboot-amd64', 'debian-installer-12-netboot-arm64', 'ipxe'];

describe('what npm start serves', () => {
  it('names each package the Debian sample needs and does not find, once', () => {
    assert.deepEqual(missingSamplePackages(() => false), ALL);
    assert.deepEqual(missingSamplePackages(() => true), []);
    assert.deepEqual(missingSamplePackages((f) => !f.startsWith('/usr/lib/ipxe/')), ['ipxe']);
    assert.deepEqual(missingSamplePackages((f) => !f.includes('/12/arm64/')), ['debian-installer-12-netboot-arm64']);
  });

  it('the Debian sample, kept under the state directory, when every package is there', () => {
    assert.deepEqual(chooseTree([], '.icboot', '/repo'), { kind: 'debian', dir: '.icboot/sample-debian', label: 'icboot sample debian' });
  });

  it('samples/tftp otherwise, with the packages that would make it bootable', () => {
    assert.deepEqual(chooseTree(['ipxe'], '.icboot', '/repo'), { kind: 'text', dir: '/repo/samples/tftp', label: 'samples/tftp', missing: ['ipxe'] });
  });

  it('QEMU boots from the gateway\'s HTTP port on the host\'s loopback, through its iPXE ROM on user networking', () => {
    assert.equal(qemuCommand(8080), 'qemu-system-x86_64 -m 1024 -nographic -boot n -nic user,model=e1000,bootfile=http://10.0.2.2:8080/boot.ipxe');
    assert.match(qemuCommand(80), /bootfile=http:\/\/10\.0\.2\.2\/boot\.ipxe$/);
  });
});

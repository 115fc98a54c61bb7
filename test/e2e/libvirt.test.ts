// Real libvirt: libvirtd in a network namespace of the test's own, its stock
// `default` network edited by `icboot libvirt-network --apply`, and
// `virt-install --pxe` guests that boot the Debian installer through
// `icboot gateway` on 192.168.122.1 (TFTP 69, HTTP 80) from a devnet holding
// the tree: pxelinux over TFTP, then, with `--ipxe`, iPXE over HTTP.
// Everything is put back afterwards: the guests, the network, the daemons.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assembleDebianTree } from '../../cli/sample.ts';
import { icboot } from '../../lab/cli.ts';
import { REPO, tempDir } from '../../lab/devnet.ts';
import { run } from '../../lab/gateway.ts';
import { defaultIpxeUrl } from '../../common/machines/firmware.ts';
import { ipxeBootOptions } from '../../libvirt/dnsmasq_boot.ts';
import { networkUuid as uuid } from '../../libvirt/network_xml.ts';
import { APPLY, APPLY_IPXE, LIBVIRT_BRIDGE_IP, LibvirtLab, NETWORK, REVERT, seconds } from '../../lab/libvirt.ts';

const mac = (xml: string): string | undefined => /<mac address='([^']+)'\/>/.exec(xml)?.[1];
const BOOTP = `<bootp file='pxelinux.0' server='${LIBVIRT_BRIDGE_IP}'/>`;
const IPXE_BOOTP = `<bootp file='undionly.kpxe' server='${LIBVIRT_BRIDGE_IP}'/>`;
/** What `--ipxe` puts in the network's dnsmasq options, and libvirt in its dnsmasq configuration. */
const IPXE_LINES = ipxeBootOptions(LIBVIRT_BRIDGE_IP, defaultIpxeUrl(LIBVIRT_BRIDGE_IP));

// Before the lab starts its libvirtd (it refuses to run beside one it did not start).
describe('libvirt-network where libvirt cannot be used', () => {
  const work = tempDir('libvirt-none');
  const env = { ...process.env, XDG_STATE_HOME: join(work, 'state'), LIBVIRT_DEFAULT_URI: undefined };
  after(() => rmSync(work, { recursive: true, force: true }));

  it('says virsh is missing, and which package has it', async () => {
    const r = await icboot(['libvirt-network', '--apply'], { cwd: work, env: { ...env, PATH: join(work, 'empty') } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^icboot: virsh not found: install it \(Debian: apt-get install libvirt-clients\)/);
  });

  it('says libvirtd is not running, and how to start it', async () => {
    const r = await icboot(['libvirt-network', '--apply'], { cwd: work, env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^icboot: libvirtd is not running .* start it with `systemctl start libvirtd` \(or `libvirtd -d`/);
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  });
});

describe('a libvirt guest boots through the gateway', () => {
  const lab = new LibvirtLab(tempDir('libvirt'));
  const tree = join(lab.work, 'tree');
  /** The gateway's log: one line per TFTP transfer and per HTTP request. */
  let gatewayLog = '';
  /** The network's definition as `--apply` (pxelinux) left it. */
  let pxelinuxDefinition = '';

  before(async () => {
    LibvirtLab.checkTools();
    assembleDebianTree(tree);
    await lab.start(tree);
    gatewayLog = await lab.gateway();
  }, { timeout: 600_000 });

  after(async () => {
    const failures = await lab.teardown();
    // The logs stay for a teardown that failed.
    if (!process.env.ICBOOT_KEEP_E2E && failures.length === 0) rmSync(lab.work, { recursive: true, force: true });
    assert.deepEqual(failures.map((f) => f.message), []);
  }, { timeout: 300_000 });

  const names = (which: 'all' | 'active' = 'active'): Promise<string[]> => lab.libvirt.networks(which);

  /** Stops and undefines a network of the test's own, if it is there. */
  async function removeNetwork(name: string): Promise<void> {
    if ((await names()).includes(name)) await lab.virsh('net-destroy', name);
    if ((await names('all')).includes(name)) await lab.virsh('net-undefine', name);
  }

  /** Defines a network of the test's own from `xml`. */
  async function define(name: string, xml: string): Promise<void> {
    const file = join(lab.work, `${name}.xml`);
    writeFileSync(file, xml);
    await lab.virsh('net-define', file);
  }

  const networkXml = (name: string, inner: string): string => `<network><name>${name}</name><ip address='10.123.0.1' netmask='255.255.255.0'>${inner}</ip></network>`;

  it('refuses, changing nothing: an unknown network, a user libvirt turns away, no IPv4 DHCP, nowhere to save the original', async () => {
    const unknown = await lab.icboot(['libvirt-network', '--name', 'nope', '--apply']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^icboot: unknown libvirt network "nope" at qemu:\/\/\/system \(networks: default\); pick one with --name, or add --create/);

    const nobody = await run('runuser', ['-u', 'nobody', '--', 'env', `XDG_STATE_HOME=${join(lab.work, 'nobody')}`, `LIBVIRT_DEFAULT_URI=qemu:///system`,
      process.execPath, join(REPO, 'cli', 'icboot.js'), 'libvirt-network', '--apply']);
    assert.equal(nobody.code, 1, nobody.stderr);
    assert.match(nobody.stderr, /^icboot: libvirt refused .*: run as root, or add your user to group libvirt/);

    await define('icboot-nodhcp', networkXml('icboot-nodhcp', ''));
    try {
      const before = await lab.virsh('net-dumpxml', '--inactive', 'icboot-nodhcp');
      const r = await lab.icboot(['libvirt-network', '--name', 'icboot-nodhcp', '--apply']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^icboot: network icboot-nodhcp has no IPv4 DHCP range \(its IPv4 address 10\.123\.0\.1 has no <dhcp>\)/);
      assert.equal(await lab.virsh('net-dumpxml', '--inactive', 'icboot-nodhcp'), before);
    } finally {
      await removeNetwork('icboot-nodhcp');
    }

    const definition = await lab.definition();
    const notADir = join(lab.work, 'not-a-folder');
    writeFileSync(notADir, '');
    const r = await lab.icboot(['libvirt-network', '--apply'], { XDG_STATE_HOME: notADir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^icboot: cannot save network default's original definition under \S+not-a-folder\/icboot\/libvirt\/.* nothing was changed/m);
    assert.equal(await lab.definition(), definition);
  });

  it('--create defines a missing network and --revert removes it; --revert keeps a network changed since', async () => {
    const name = 'icboot-created';
    const created = ['libvirt-network', '--name', name, '--create', '--gateway-ip', '10.124.0.1'];
    const preview = await lab.icboot(created);
    assert.equal(preview.code, 0, preview.stderr);
    assert.match(preview.stdout.toString(), /<bootp file="pxelinux\.0" server="10\.124\.0\.1"\/>/);
    assert.ok(!(await names('all')).includes(name), 'a preview defines nothing');
    try {
      assert.equal((await lab.icboot([...created, '--apply'])).code, 0);
      assert.ok((await names()).includes(name), 'defined and started');
      const again = await lab.icboot([...created, '--apply']);
      assert.match(again.stderr, /nothing changed/);
      const reverted = await lab.icboot(['libvirt-network', '--name', name, '--revert']);
      assert.equal(reverted.code, 0, reverted.stderr);
      assert.ok(!(await names('all')).includes(name), 'removed');
    } finally {
      await removeNetwork(name);
    }

    const dhcp = "<dhcp><range start='10.123.0.2' end='10.123.0.9'/></dhcp>";
    await define('icboot-edited', networkXml('icboot-edited', dhcp));
    try {
      assert.equal((await lab.icboot(['libvirt-network', '--name', 'icboot-edited', '--apply'])).code, 0);
      // Someone widens the DHCP range after icboot's edit: reverting would undo that.
      const theirs = (await lab.virsh('net-dumpxml', '--inactive', 'icboot-edited')).replace("end='10.123.0.9'", "end='10.123.0.99'");
      writeFileSync(join(lab.work, 'theirs.xml'), theirs);
      await lab.virsh('net-define', join(lab.work, 'theirs.xml'));
      const r = await lab.icboot(['libvirt-network', '--name', 'icboot-edited', '--revert']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^icboot: network icboot-edited was changed since icboot edited it .* restore by hand \(virsh net-define \S+icboot-edited\.xml\)/);
      assert.equal(await lab.virsh('net-dumpxml', '--inactive', 'icboot-edited'), theirs);
    } finally {
      await removeNetwork('icboot-edited');
    }
  });

  it('libvirt-network --apply sets <bootp> in the stock network and keeps its uuid and MAC', async () => {
    const original = lab.original.definition;
    assert.ok(uuid(original) && mac(original), 'the stock network has a uuid and a MAC');
    const r = await lab.icboot(APPLY);
    assert.equal(r.code, 0, r.stderr);
    console.log(`icboot libvirt-network --apply on the stock network:\n${r.stdout.toString()}${r.stderr}`);
    assert.match(r.stderr, /^@@ /m, 'it prints the diff it applies');
    for (const xml of [await lab.definition(), await lab.virsh('net-dumpxml', NETWORK)]) {
      assert.equal(uuid(xml), uuid(original));
      assert.equal(mac(xml), mac(original));
      assert.ok(xml.includes(BOOTP), `${BOOTP} in:\n${xml}`);
      assert.doesNotMatch(xml, /<tftp/);
    }
    pxelinuxDefinition = await lab.definition();
  });

  it('a second --apply changes nothing and says so', async () => {
    const [definition, file] = [await lab.definition(), lab.networkFile()];
    const r = await lab.icboot(APPLY);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /^@@ /m);
    assert.match(r.stderr, /nothing changed/);
    assert.equal(await lab.definition(), definition);
    assert.ok(lab.networkFile().equals(file), 'the network file is byte-identical');
  });

  it('a virt-install --pxe guest reaches the Debian installer\'s "Select a language"', { timeout: 360_000 }, async () => {
    assert.ok((await lab.definition()).includes(BOOTP), 'the network sends PXE clients to the gateway');
    const { times } = await lab.boot('pxelinux', true);
    console.log(`libvirt guest through icboot gateway (pxelinux, TFTP): ${seconds(times)}`);
    const transfers = readFileSync(gatewayLog, 'utf8');
    assert.match(transfers, /tftp \S+ pxelinux\.0 .* ok/);
    assert.match(transfers, /tftp \S+ debian-installer\/amd64\/initrd\.gz 4\d+ bytes .* ok/);
  });

  it('--ipxe --apply hands BIOS PXE undionly.kpxe and puts icboot\'s lines into libvirt\'s dnsmasq configuration', async () => {
    const r = await lab.icboot(APPLY_IPXE);
    assert.equal(r.code, 0, r.stderr);
    console.log(`icboot libvirt-network --ipxe --apply after --apply:\n${r.stderr}`);
    assert.match(r.stderr, /^-\s+<bootp file="pxelinux\.0" server="192\.168\.122\.1"\/>$/m, 'the diff shows the edit');
    for (const line of IPXE_LINES) assert.ok(r.stderr.includes(`+    <dnsmasq:option value="${line}"/>`), `the diff adds ${line}:\n${r.stderr}`);
    for (const xml of [await lab.definition(), await lab.virsh('net-dumpxml', NETWORK)]) {
      assert.equal(uuid(xml), uuid(lab.original.definition));
      assert.ok(xml.includes(IPXE_BOOTP), `${IPXE_BOOTP} in:\n${xml}`);
      for (const line of IPXE_LINES) assert.ok(xml.includes(`<dnsmasq:option value='${line}'/>`), `${line} in:\n${xml}`);
    }
    // libvirt restarted its dnsmasq with them: each one a line of the configuration it wrote.
    const conf = lab.dnsmasqConf().split('\n');
    for (const line of [`dhcp-boot=undionly.kpxe,,${LIBVIRT_BRIDGE_IP}`, ...IPXE_LINES]) assert.ok(conf.includes(line), `${line} in:\n${conf.join('\n')}`);

    const [definition, file] = [await lab.definition(), lab.networkFile()];
    const again = await lab.icboot(APPLY_IPXE);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /nothing changed/);
    assert.equal(await lab.definition(), definition);
    assert.ok(lab.networkFile().equals(file), 'the network file is byte-identical');
  });

  it('a virt-install --pxe guest, whose NIC ROM is iPXE, reaches the kernel over HTTP from /boot.ipxe', { timeout: 360_000 }, async () => {
    const from = readFileSync(gatewayLog, 'utf8').length;
    const { times, serial } = await lab.boot('ipxe', false);
    assert.match(serial, /Linux version/);
    console.log(`libvirt guest through icboot gateway (iPXE, HTTP): ${seconds(times)}`);
    const requests = readFileSync(gatewayLog, 'utf8').slice(from);
    const size = (path: string): number => statSync(join(tree, path)).size;
    assert.match(requests, /\bhttp \S+ GET \/boot\.ipxe 200 /);
    assert.match(requests, /\bhttp \S+ GET \/ipxe\?\S*mac=\S+ 200 /);
    assert.match(requests, new RegExp(`\\bhttp \\S+ GET debian-installer/amd64/linux 200 ${size('debian-installer/amd64/linux')} bytes `));
    assert.match(requests, new RegExp(`\\bhttp \\S+ GET debian-installer/amd64/initrd\\.gz 200 ${size('debian-installer/amd64/initrd.gz')} bytes `));
    // The ROM is iPXE already: it is not handed a chainloader over TFTP (no transfer line: `tftp CLIENT PATH ...`).
    assert.doesNotMatch(requests, /\btftp \d+\.\d+\.\d+\.\d+:\d+ /);
  });

  it('--apply without --ipxe takes icboot\'s lines out again, and --revert restores the original byte for byte', async () => {
    const plain = await lab.icboot(APPLY);
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(await lab.definition(), pxelinuxDefinition);
    assert.ok(!lab.dnsmasqConf().includes('icboot-'), 'no icboot line left in dnsmasq\'s configuration');

    assert.equal((await lab.icboot(APPLY_IPXE)).code, 0);
    const reverted = await lab.icboot(REVERT);
    assert.equal(reverted.code, 0, reverted.stderr);
    assert.equal(await lab.definition(), lab.original.definition);
    assert.ok(lab.networkFile().equals(lab.original.file), 'the network file is as before the test');
    assert.ok(!lab.dnsmasqConf().includes('icboot-'), 'no icboot line left in dnsmasq\'s configuration');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NetworkXmlError, canonical, editNetwork, networkName, networkUuid, newNetwork, withoutBootSettings, type NetworkXmlProblem } from './network_xml.ts';

// As libvirt 9.0 dumps its stock `default` network once defined (uuid and mac generated).
const STOCK = `<network>
  <name>default</name>
  <uuid>7b4c5e55-63c9-4c2f-9d8e-2f0a2d1c9a11</uuid>
  <forward mode='nat'>
    <nat>
      <port start='1024' end='65535'/>
    </nat>
  </forward>
  <bridge name='virbr0' stp='on' delay='0'/>
  <mac address='52:54:00:3a:5c:01'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
`;

// A network someone has lived with: hosts, DNS, a comment, dnsmasq pass-through options, IPv6 beside IPv4.
const LIVED_IN = `<network xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0' connections='2'>
  <name>lab</name>
  <uuid>0b3b7a2e-8e0c-4a47-9d49-6f1f0c1b9c11</uuid>
  <!-- the rack's network -->
  <forward mode='nat'>
    <nat>
      <port start='2000' end='3000'/>
    </nat>
  </forward>
  <bridge name='virbr7' stp='on' delay='0'/>
  <mac address='52:54:00:aa:bb:cc'/>
  <domain name='rack.test' localOnly='yes'/>
  <dns>
    <host ip='10.20.0.5'><hostname>store&amp;co</hostname></host>
  </dns>
  <ip family='ipv6' address='fd00:20::1' prefix='64'/>
  <ip address='10.20.0.1' netmask='255.255.255.0'>
    <tftp root='/srv/tftp'/>
    <dhcp>
      <range start='10.20.0.100' end='10.20.0.150'/>
      <range start='10.20.0.200' end='10.20.0.220'/>
      <host mac='52:54:00:00:00:01' name='node1' ip='10.20.0.11'/>
      <bootp file='grub/x.efi' server='10.20.0.9'/>
    </dhcp>
  </ip>
  <dnsmasq:options>
    <dnsmasq:option value='dhcp-match=set:ipxe,175'/>
  </dnsmasq:options>
</network>
`;

function problem(f: () => unknown): NetworkXmlProblem {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof NetworkXmlError, `expected a NetworkXmlError, got ${e}`);
    return e.problem;
  }
  assert.fail('expected an error');
}

const changedLines = (a: string, b: string): string[] => {
  const before = new Set(a.split('\n'));
  const after = new Set(b.split('\n'));
  return [...a.split('\n').filter((l) => !after.has(l)).map((l) => `-${l.trim()}`), ...b.split('\n').filter((l) => !before.has(l)).map((l) => `+${l.trim()}`)];
};

describe('editNetwork', () => {
  it('adds <bootp> to the stock network and changes nothing else', () => {
    const e = editNetwork(STOCK, { bootfile: 'pxelinux.0' });
    assert.equal(e.changed, true);
    assert.equal(e.gatewayIp, '192.168.122.1');
    assert.deepEqual(changedLines(e.before, e.after), ['+<bootp file="pxelinux.0" server="192.168.122.1"/>']);
    assert.equal(canonical(e.before), canonical(STOCK));
    assert.equal(networkUuid(e.after), '7b4c5e55-63c9-4c2f-9d8e-2f0a2d1c9a11');
    // Indented like its sibling <range>.
    assert.match(e.after, /\n {6}<range [^\n]+\/>\n {6}<bootp [^\n]+\/>\n {4}<\/dhcp>/);
    assert.deepEqual(e.notes, []);
  });

  it('is idempotent: its own result needs no change', () => {
    const once = editNetwork(STOCK, { bootfile: 'pxelinux.0' });
    const twice = editNetwork(once.after, { bootfile: 'pxelinux.0' });
    assert.equal(twice.changed, false);
    assert.equal(twice.after, once.after);
    // libvirt re-dumps it with its own quoting: still nothing to change.
    assert.equal(editNetwork(once.after.replace(/"/g, "'"), { bootfile: 'pxelinux.0' }).changed, false);
  });

  it('keeps every other element, attribute, namespace and comment of a lived-in network', () => {
    const e = editNetwork(LIVED_IN, { bootfile: 'pxelinux.0' });
    assert.equal(e.gatewayIp, '10.20.0.1');
    assert.deepEqual(changedLines(e.before, e.after).sort(), [
      '+<bootp file="pxelinux.0" server="10.20.0.1"/>',
      '-<bootp file="grub/x.efi" server="10.20.0.9"/>',
      '-<tftp root="/srv/tftp"/>',
    ]);
    for (const kept of ['<!-- the rack\'s network -->', 'xmlns:dnsmasq="http://libvirt.org/schemas/network/dnsmasq/1.0"', '<dnsmasq:option value="dhcp-match=set:ipxe,175"/>',
      '<hostname>store&amp;co</hostname>', '<port start="2000" end="3000"/>', '<mac address="52:54:00:aa:bb:cc"/>', '<host mac="52:54:00:00:00:01" name="node1" ip="10.20.0.11"/>',
      '<ip family="ipv6" address="fd00:20::1" prefix="64"/>', 'connections="2"']) {
      assert.ok(e.after.includes(kept), `lost ${kept}`);
    }
    assert.equal(withoutBootSettings(e.after), withoutBootSettings(LIVED_IN));
  });

  it('names what it found and what it changes: a <tftp> root, a <bootp> pointing elsewhere, two ranges', () => {
    const { notes } = editNetwork(LIVED_IN, { bootfile: 'pxelinux.0' });
    assert.equal(notes.length, 3, notes.join('\n'));
    assert.match(notes.join('\n'), /2 DHCP ranges on 10\.20\.0\.1 \(10\.20\.0\.100-10\.20\.0\.150, 10\.20\.0\.200-10\.20\.0\.220\)/);
    assert.match(notes.join('\n'), /found <tftp root='\/srv\/tftp'\/> on 10\.20\.0\.1: .* icboot removes it/);
    assert.match(notes.join('\n'), /found <bootp file='grub\/x\.efi' server='10\.20\.0\.9'\/> on 10\.20\.0\.1: icboot replaces it with <bootp file='pxelinux\.0' server='10\.20\.0\.1'\/>/);
  });

  it('uses --gateway-ip and --bootfile when given, and says when clients leave the bridge address', () => {
    const e = editNetwork(STOCK, { bootfile: 'debian-installer/amd64/pxelinux.0', gatewayIp: '192.168.122.7' });
    assert.match(e.after, /<bootp file="debian-installer\/amd64\/pxelinux\.0" server="192\.168\.122\.7"\/>/);
    assert.match(e.notes.join('\n'), /from 192\.168\.122\.7, not from the bridge address 192\.168\.122\.1/);
  });

  it('refuses networks it cannot edit, naming what it found', () => {
    const cases: [string, NetworkXmlProblem, RegExp][] = [
      ['<network><name>n</name><forward/></network>', 'no-ip', /network n has no <ip> element/],
      ["<network><name>n</name><ip family='ipv6' address='fd00::1' prefix='64'><dhcp><range start='fd00::2' end='fd00::9'/></dhcp></ip></network>",
        'ipv6-only', /only IPv6 addresses \(fd00::1\)/],
      ["<network><name>n</name><ip address='10.1.0.1' netmask='255.255.255.0'/></network>", 'no-dhcp', /no IPv4 DHCP range \(its IPv4 address 10\.1\.0\.1 has no <dhcp>\)/],
      ["<network><name>n</name><ip address='10.1.0.1' netmask='255.255.255.0'><dhcp/></ip></network>", 'no-dhcp', /has no <range> and no <host>/],
      ["<network><name>n</name><ip address='10.1.0.1' netmask='255.255.255.0'><dhcp><range start='10.1.0.2' end='10.1.0.9'/></dhcp></ip>"
        + "<ip address='10.2.0.1' netmask='255.255.255.0'><dhcp><range start='10.2.0.2' end='10.2.0.9'/></dhcp></ip></network>", 'two-dhcp', /10\.1\.0\.1, 10\.2\.0\.1/],
      ['<network><name>n</name><ip></network>', 'malformed', /not well-formed XML/],
      ['<!DOCTYPE n [<!ENTITY x "x">]><network>&x;</network>', 'malformed', /DOCTYPE/],
      ['<network><name>n&bogus;</name></network>', 'malformed', /not well-formed/],
      ['<domain><name>n</name></domain>', 'not-a-network', /root element is <domain>/],
      ['', 'malformed', /not well-formed/],
    ];
    for (const [xml, expected, message] of cases) {
      assert.equal(problem(() => editNetwork(xml, { bootfile: 'pxelinux.0' })), expected, xml);
      assert.throws(() => editNetwork(xml, { bootfile: 'pxelinux.0' }), message);
    }
  });

  it('refuses a bad --gateway-ip or --bootfile', () => {
    assert.equal(problem(() => editNetwork(STOCK, { bootfile: 'pxelinux.0', gatewayIp: '192.168.122' })), 'bad-address');
    for (const bootfile of ['', '/abs/path', '../up', 'a b', 'x'.repeat(128), 'nul\u0000', 'http://']) {
      assert.equal(problem(() => editNetwork(STOCK, { bootfile })), 'bad-bootfile', JSON.stringify(bootfile));
    }
    assert.equal(editNetwork(STOCK, { bootfile: 'http://192.168.122.1:8080/boot.ipxe' }).changed, true);
  });
});

describe('newNetwork', () => {
  it('is a stock-like NAT network whose DHCP already points at the gateway', () => {
    const xml = newNetwork('pxe', '192.168.130.1', 'pxelinux.0');
    assert.equal(networkName(xml), 'pxe');
    assert.equal(networkUuid(xml), null);
    assert.match(xml, /<range start='192\.168\.130\.2' end='192\.168\.130\.254'\/>/);
    assert.equal(editNetwork(xml, { bootfile: 'pxelinux.0' }).changed, false);
  });

  it('escapes the name and needs the bridge address (.1)', () => {
    assert.equal(networkName(newNetwork("a'<b>&c", '10.9.0.1', 'pxelinux.0')), "a'<b>&c");
    assert.equal(problem(() => newNetwork('pxe', '10.9.0.5', 'pxelinux.0')), 'bad-address');
  });
});

describe('canonical', () => {
  it('ignores quoting, attribute order, indentation and comments, and nothing else', () => {
    assert.equal(canonical("<network><ip a='1' b='2'/></network>"), canonical('<network>\n  <!-- c -->\n  <ip b="2" a="1"/>\n</network>'));
    assert.notEqual(canonical("<network><ip a='1'/></network>"), canonical("<network><ip a='2'/></network>"));
    assert.notEqual(canonical('<network><name>a</name></network>'), canonical('<network><name>b</name></network>'));
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NetworkXmlError, bootSettings, canonical, editNetwork, networkName, networkUuid, newNetwork, withoutBootSettings, type NetworkXmlProblem } from './network_xml.ts';
import { ipxeBootOptions } from './dnsmasq_boot.ts';

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

/** The values of the network's dnsmasq options, in order, whatever the prefix and quoting. */
const optionValues = (xml: string): string[] => [...xml.matchAll(/<(?:[\w-]+:)?option value=(["'])(.*?)\1/g)].map((m) => m[2]);

describe('editNetwork --ipxe', () => {
  const STOCK_LINES = ipxeBootOptions('192.168.122.1', 'http://192.168.122.1/boot.ipxe');

  it('gives BIOS PXE the iPXE chainloader and adds icboot\'s dnsmasq options, indented, in libvirt\'s namespace', () => {
    const e = editNetwork(STOCK, { ipxe: true });
    assert.equal(e.changed, true);
    assert.deepEqual(e.notes, ['iPXE clients will fetch http://192.168.122.1/boot.ipxe: run the gateway with --http 192.168.122.1:80']);
    assert.deepEqual(changedLines(e.before, e.after), [
      '-<network>',
      '+<network xmlns:dnsmasq="http://libvirt.org/schemas/network/dnsmasq/1.0">',
      '+<bootp file="undionly.kpxe" server="192.168.122.1"/>',
      '+<dnsmasq:options>',
      ...STOCK_LINES.map((l) => `+<dnsmasq:option value="${l}"/>`),
      '+</dnsmasq:options>',
    ]);
    // Where libvirt itself puts them: last in <network>, one option a line.
    assert.match(e.after, /\n {2}<\/ip>\n {2}<dnsmasq:options>\n(?: {4}<dnsmasq:option value="[^"\n]+"\/>\n)+ {2}<\/dnsmasq:options>\n<\/network>/);
    assert.deepEqual(optionValues(e.after), STOCK_LINES);
  });

  it('keeps an explicit --bootfile for plain BIOS PXE, and takes --ipxe URL and --gateway-ip as given', () => {
    const e = editNetwork(STOCK, { ipxe: 'https://boot.example/boot.ipxe', bootfile: 'pxelinux.0', gatewayIp: '192.168.122.7' });
    assert.match(e.after, /<bootp file="pxelinux\.0" server="192\.168\.122\.7"\/>/);
    assert.deepEqual(optionValues(e.after), ipxeBootOptions('192.168.122.7', 'https://boot.example/boot.ipxe'));
    // Without a URL, iPXE asks the gateway's address.
    assert.deepEqual(optionValues(editNetwork(STOCK, { ipxe: true, gatewayIp: '192.168.122.7' }).after), ipxeBootOptions('192.168.122.7', 'http://192.168.122.7/boot.ipxe'));
  });

  it('is idempotent, also as libvirt dumps it back', () => {
    const once = editNetwork(STOCK, { ipxe: true });
    const twice = editNetwork(once.after, { ipxe: true });
    assert.equal(twice.changed, false);
    assert.equal(twice.after, once.after);
    assert.equal(editNetwork(once.after.replace(/"/g, "'"), { ipxe: true }).changed, false);
    assert.equal(bootSettings(once.after.replace(/"/g, "'")), bootSettings(once.after));
  });

  it('without --ipxe takes icboot\'s options out again, with the options element and the namespace it added', () => {
    const ipxe = editNetwork(STOCK, { ipxe: true });
    const plain = editNetwork(ipxe.after, {});
    assert.equal(plain.changed, true);
    assert.doesNotMatch(plain.after, /dnsmasq/);
    assert.equal(plain.after, editNetwork(STOCK, {}).after);
    assert.equal(canonical(plain.after), canonical(editNetwork(STOCK, {}).after));
    assert.equal(withoutBootSettings(ipxe.after), withoutBootSettings(STOCK));
    assert.notEqual(bootSettings(ipxe.after), bootSettings(plain.after));
  });

  it('with another URL, replaces icboot\'s lines and keeps no old one', () => {
    const first = editNetwork(STOCK, { ipxe: true });
    const second = editNetwork(first.after, { ipxe: 'http://192.168.122.1:8080/boot.ipxe' });
    assert.equal(second.changed, true);
    assert.deepEqual(optionValues(second.after), ipxeBootOptions('192.168.122.1', 'http://192.168.122.1:8080/boot.ipxe'));
    assert.deepEqual(changedLines(first.after, second.after), [
      '-<dnsmasq:option value="dhcp-boot=tag:icboot-ipxe,http://192.168.122.1/boot.ipxe"/>',
      '+<dnsmasq:option value="dhcp-boot=tag:icboot-ipxe,http://192.168.122.1:8080/boot.ipxe"/>',
    ]);
  });

  it('puts its lines after the user\'s own options and leaves theirs, their comment and their namespace as they were', () => {
    const theirs = LIVED_IN.replace("    <dnsmasq:option value='dhcp-match=set:ipxe,175'/>",
      "    <!-- theirs -->\n    <dnsmasq:option value='dhcp-match=set:ipxe,175'/>\n    <dnsmasq:option value='dhcp-option=tag:ipxe,option:ntp-server,10.20.0.1'/>");
    const e = editNetwork(theirs, { ipxe: true });
    assert.deepEqual(optionValues(e.after), ['dhcp-match=set:ipxe,175', 'dhcp-option=tag:ipxe,option:ntp-server,10.20.0.1', ...ipxeBootOptions('10.20.0.1', 'http://10.20.0.1/boot.ipxe')]);
    assert.match(e.after, /<dnsmasq:options>\n {4}<!-- theirs -->\n {4}<dnsmasq:option value="dhcp-match=set:ipxe,175"\/>/);
    assert.equal(e.after.match(/<dnsmasq:options>/g)?.length, 1, 'one options element');
    assert.equal(e.after.match(/xmlns:dnsmasq=/g)?.length, 1, 'the namespace declared once');
    assert.equal(withoutBootSettings(e.after), withoutBootSettings(theirs));
    assert.equal(editNetwork(e.after, { ipxe: true }).changed, false);

    const back = editNetwork(e.after, {});
    assert.deepEqual(optionValues(back.after), ['dhcp-match=set:ipxe,175', 'dhcp-option=tag:ipxe,option:ntp-server,10.20.0.1']);
    assert.match(back.after, /<!-- theirs -->/);
    assert.match(back.after, /xmlns:dnsmasq="http:\/\/libvirt\.org\/schemas\/network\/dnsmasq\/1\.0"/);
    assert.equal(canonical(back.after), canonical(editNetwork(theirs, {}).after));
  });

  it('uses the prefix the user bound to libvirt\'s dnsmasq namespace', () => {
    const xml = STOCK.replace('<network>', "<network xmlns:d='http://libvirt.org/schemas/network/dnsmasq/1.0'>")
      .replace('</network>', "  <d:options>\n    <d:option value='log-dhcp'/>\n  </d:options>\n</network>");
    const e = editNetwork(xml, { ipxe: true });
    assert.deepEqual(optionValues(e.after), ['log-dhcp', ...STOCK_LINES]);
    assert.doesNotMatch(e.after, /dnsmasq:/);
    assert.equal(editNetwork(e.after, {}).after, editNetwork(xml, {}).after);
  });

  it('knows its own lines by their icboot- tags only', () => {
    const user = ['dhcp-match=set:ipxe,175', 'dhcp-match=set:myicboot-x,175', 'dhcp-option=tag:ipxe,3,10.20.0.1', 'log-dhcp'];
    const mine = ['dhcp-boot=tag:icboot-old,old.efi', 'dhcp-option=tag:!icboot-ipxe,3,10.20.0.1', 'dhcp-userclass=set:icboot-x,iPXE'];
    const xml = LIVED_IN.replace("    <dnsmasq:option value='dhcp-match=set:ipxe,175'/>",
      [...user, ...mine].map((v) => `    <dnsmasq:option value='${v}'/>`).join('\n'));
    assert.deepEqual(optionValues(editNetwork(xml, {}).after), user);
    assert.deepEqual(optionValues(editNetwork(xml, { ipxe: true }).after), [...user, ...ipxeBootOptions('10.20.0.1', 'http://10.20.0.1/boot.ipxe')]);
  });

  it('says when the user\'s own dhcp-boot may send clients elsewhere', () => {
    const xml = LIVED_IN.replace('dhcp-match=set:ipxe,175', 'dhcp-boot=tag:ipxe,http://10.20.0.9/menu.ipxe');
    assert.match(editNetwork(xml, { ipxe: true }).notes.join('\n'), /found the dnsmasq option "dhcp-boot=tag:ipxe,http:\/\/10\.20\.0\.9\/menu\.ipxe" of network lab/);
    assert.doesNotMatch(editNetwork(xml, {}).notes.join('\n'), /dnsmasq option/);
  });

  it('refuses a URL that is not http(s), too long for BOOTP, or that dnsmasq would split', () => {
    for (const ipxe of ['tftp://192.168.122.1/boot.ipxe', 'boot.ipxe', 'http://', `http://192.168.122.1/${'a'.repeat(107)}`, 'http://192.168.122.1/a,b',
      'http://192.168.122.1/a b', 'http://192.168.122.1/a\tb', 'http://192.168.122.1/\u0001', 'http://192.168.122.1/"x"', 'http://192.168.122.1/é']) {
      assert.equal(problem(() => editNetwork(STOCK, { ipxe })), 'bad-ipxe-url', JSON.stringify(ipxe));
    }
    assert.equal(editNetwork(STOCK, { ipxe: `http://192.168.122.1/${'a'.repeat(106)}` }).changed, true, '127 bytes fit');
  });
});

describe('newNetwork', () => {
  it('is a stock-like NAT network whose DHCP already points at the gateway', () => {
    const xml = newNetwork('pxe', '192.168.130.1', {});
    assert.equal(networkName(xml), 'pxe');
    assert.equal(networkUuid(xml), null);
    assert.match(xml, /<range start="192\.168\.130\.2" end="192\.168\.130\.254"\/>\n {6}<bootp file="pxelinux\.0" server="192\.168\.130\.1"\/>/);
    assert.equal(editNetwork(xml, { bootfile: 'pxelinux.0' }).changed, false);
  });

  it('with --ipxe, has icboot\'s dnsmasq options from the start', () => {
    const xml = newNetwork('pxe', '192.168.130.1', { ipxe: true });
    assert.deepEqual(optionValues(xml), ipxeBootOptions('192.168.130.1', 'http://192.168.130.1/boot.ipxe'));
    assert.equal(editNetwork(xml, { ipxe: true }).changed, false);
  });

  it('escapes the name and needs the bridge address (.1)', () => {
    assert.equal(networkName(newNetwork("a'<b>&c", '10.9.0.1', {})), "a'<b>&c");
    assert.equal(problem(() => newNetwork('pxe', '10.9.0.5', {})), 'bad-address');
  });
});

describe('canonical', () => {
  it('ignores quoting, attribute order, indentation and comments, and nothing else', () => {
    assert.equal(canonical("<network><ip a='1' b='2'/></network>"), canonical('<network>\n  <!-- c -->\n  <ip b="2" a="1"/>\n</network>'));
    assert.notEqual(canonical("<network><ip a='1'/></network>"), canonical("<network><ip a='2'/></network>"));
    assert.notEqual(canonical('<network><name>a</name></network>'), canonical('<network><name>b</name></network>'));
  });
});

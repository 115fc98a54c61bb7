import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_TEMPLATE_BYTES } from '../../common/machines/parse.ts';
import { normaliseSelectors } from '../../common/machines/select.ts';
import type { Group, Profile, Selectors } from '../../common/machines/types.ts';
import {
  MAX_OUTPUT_CHARS, RenderError, bootIpxe, grubConfig, ipxeScript, noMatchIpxe, renderTemplate,
  type GatewayAddress, type ReadFile, type RenderContext, type RenderErrorKind,
} from './render.ts';

const gateway: GatewayAddress = { http: 'http://10.0.2.2:8080', tftp: '10.0.2.2:69' };

const profile = (over: Partial<Profile> = {}): Profile => ({
  id: 'debian',
  name: 'Debian installer',
  kernel: 'debian-installer/amd64/linux',
  initrds: ['debian-installer/amd64/initrd.gz', 'extra/firmware.cpio.gz'],
  args: 'console=ttyS0,115200 auto=true url={{ gateway.http }}/generic?template=preseed&mac={{ selectors.mac }} suite={{ metadata.suite }}',
  templates: { preseed: 'icboot/templates/preseed.cfg' },
  ...over,
});

const group = (over: Partial<Group> = {}): Group => ({
  id: 'rack1', name: 'Rack 1', profile: 'debian', selector: { mac: '52:54:00:12:34:56' }, metadata: { suite: 'bookworm' }, ...over,
});

const context = (over: { selectors?: Selectors; profile?: Partial<Profile>; group?: Partial<Group>; gateway?: GatewayAddress } = {}): RenderContext => ({
  selectors: over.selectors ?? { mac: '52:54:00:12:34:56', arch: 'bios' },
  group: group(over.group),
  profile: profile(over.profile),
  gateway: over.gateway ?? gateway,
});

/** A release holding `files` (tree path → text); any other path is not in it. */
const release = (files: Record<string, string | Uint8Array>): ReadFile => async (path) => {
  const f = Object.hasOwn(files, path) ? files[path] : undefined;
  if (f === undefined) return null;
  return typeof f === 'string' ? new TextEncoder().encode(f) : f;
};
const noFiles = release({});

const isRenderError = (kind: RenderErrorKind) => (e: unknown): boolean => {
  assert.ok(e instanceof RenderError, `expected a RenderError, got ${String(e)}`);
  assert.equal(e.kind, kind, e.message);
  assert.ok(!e.message.includes('\n'), 'one-line message');
  return true;
};

/** Renders `text` as the profile's template `t`. */
const template = (text: string, c: RenderContext = context()): Promise<string> =>
  renderTemplate({ ...c, profile: { ...c.profile, templates: { t: 'icboot/templates/t' } } }, 't', release({ 'icboot/templates/t': text }));

test('ipxeScript: kernel, named initrds with initrd= arguments for the EFI stub, rendered arguments, boot', async () => {
  assert.equal(await ipxeScript(context(), noFiles), [
    '#!ipxe',
    'kernel http://10.0.2.2:8080/debian-installer/amd64/linux initrd=initrd0 initrd=initrd1 console=ttyS0,115200 auto=true'
      + ' url=http://10.0.2.2:8080/generic?template=preseed&mac=52:54:00:12:34:56 suite=bookworm',
    'initrd --name initrd0 http://10.0.2.2:8080/debian-installer/amd64/initrd.gz',
    'initrd --name initrd1 http://10.0.2.2:8080/extra/firmware.cpio.gz',
    'boot',
    '',
  ].join('\n'));
});

test('ipxeScript: arguments may branch on the architecture and span lines; a profile without initrds has no initrd lines', async () => {
  const args = '{% if selectors.arch == "efi-arm64" %}\nconsole=ttyAMA0\n{% else %}\nconsole=ttyS0,115200\n{% endif %}\tquiet';
  const p = { kernel: 'arm64/linux', initrds: [], args };
  assert.equal(
    await ipxeScript(context({ selectors: { arch: 'efi-arm64' }, profile: p }), noFiles),
    '#!ipxe\nkernel http://10.0.2.2:8080/arm64/linux console=ttyAMA0 quiet\nboot\n',
  );
  assert.equal(
    await ipxeScript(context({ selectors: { arch: 'efi-x86_64' }, profile: p }), noFiles),
    '#!ipxe\nkernel http://10.0.2.2:8080/arm64/linux console=ttyS0,115200 quiet\nboot\n',
  );
});

test('the clock is not an input: the date filter is a template error', async () => {
  await assert.rejects(ipxeScript(context({ profile: { args: 'y={{ "now" | date: "%Y" }}' } }), noFiles), isRenderError('template'));
});

test('ipxeScript: arguments iPXE would not pass literally are a template error', async () => {
  for (const args of ['a=${net0/ip}', 'a #b', 'a || b', 'a && b', 'a ; b', 'a\u0001b', '{{ metadata.x }}', 'a=b\\', 'a={{ metadata.y }}']) {
    // metadata.y ends in a backslash: iPXE would join the next line (the initrd) onto the kernel's.
    const c = context({ profile: { args }, group: { metadata: { x: 'x=${evil}', y: 'foo\\' } } });
    await assert.rejects(ipxeScript(c, noFiles), isRenderError('template'), args);
  }
  // The same characters inside a word are literal to iPXE.
  assert.match(await ipxeScript(context({ profile: { args: 'a=b#c d=x||y;z' } }), noFiles), / a=b#c d=x\|\|y;z\n/);
});

test('grubConfig: linux and initrd from (http,HOST:PORT), arguments quoted word by word', async () => {
  const c = context({ profile: { args: `console=ttyS0,115200 x=$y it's;{{ selectors.mac }}` } });
  assert.equal(await grubConfig(c, noFiles), [
    `linux (http,10.0.2.2:8080)/debian-installer/amd64/linux 'console=ttyS0,115200' 'x=$y' 'it'\\''s;52:54:00:12:34:56'`,
    'initrd (http,10.0.2.2:8080)/debian-installer/amd64/initrd.gz (http,10.0.2.2:8080)/extra/firmware.cpio.gz',
    'boot',
    '',
  ].join('\n'));
});

test('grubConfig: IPv6 gateway, default port, a path prefix, no initrds', async () => {
  const p = { initrds: [], args: '' };
  assert.equal(
    await grubConfig(context({ profile: p, gateway: { http: 'http://[fd00::1]:8080/', tftp: '[fd00::1]:69' } }), noFiles),
    'linux (http,[fd00::1]:8080)/debian-installer/amd64/linux\nboot\n',
  );
  assert.equal(
    await grubConfig(context({ profile: p, gateway: { http: 'http://boot.example:80/icboot', tftp: 'boot.example:69' } }), noFiles),
    'linux (http,boot.example)/icboot/debian-installer/amd64/linux\nboot\n',
  );
});

test('URL path segments are percent-encoded, slashes kept', async () => {
  const p = { kernel: "a b/c#d?e/${f}/it's(1)*!/é%", initrds: ['x/100%.gz'], args: '' };
  const kernel = 'a%20b/c%23d%3Fe/%24%7Bf%7D/it%27s%281%29%2A%21/%C3%A9%25';
  assert.equal(await ipxeScript(context({ profile: p }), noFiles),
    `#!ipxe\nkernel http://10.0.2.2:8080/${kernel} initrd=initrd0\ninitrd --name initrd0 http://10.0.2.2:8080/x/100%25.gz\nboot\n`);
  assert.equal(await grubConfig(context({ profile: p }), noFiles),
    `linux (http,10.0.2.2:8080)/${kernel}\ninitrd (http,10.0.2.2:8080)/x/100%25.gz\nboot\n`);
});

test('templates see selectors, metadata, group, profile, gateway, kernel and initrds', async () => {
  const selectors = {
    mac: '52:54:00:12:34:56', uuid: '8c5d5d6e-1c0e-4b4e-9a4f-0d3c5a0b9e21', hostname: 'node1.lab', serial: 'SN-42', arch: 'efi-x86_64', rack: 'r7',
  };
  const text = [
    '{{ selectors.mac }} {{ selectors.uuid }} {{ selectors.hostname }} {{ selectors.serial }} {{ selectors.arch }} {{ selectors.rack }}',
    '{{ metadata.suite }} {{ metadata.disks[1] }} {{ metadata.net.vlan }} {{ metadata.ssh | json }}',
    '{{ group.id }}/{{ group.name }} {{ profile.id }}/{{ profile.name }}',
    '{{ gateway.http }} {{ gateway.tftp }}',
    '{{ kernel }} {{ initrds | join: "," }}',
  ].join('\n');
  const metadata = { suite: 'bookworm', disks: ['sda', 'sdb'], net: { vlan: 12 }, ssh: 'ssh-ed25519 AAAA "me"' };
  assert.equal(await template(text, context({ selectors, group: { metadata } })), [
    '52:54:00:12:34:56 8c5d5d6e-1c0e-4b4e-9a4f-0d3c5a0b9e21 node1.lab SN-42 efi-x86_64 r7',
    'bookworm sdb 12 "ssh-ed25519 AAAA \\"me\\""',
    'rack1/Rack 1 debian/Debian installer',
    'http://10.0.2.2:8080 10.0.2.2:69',
    'http://10.0.2.2:8080/debian-installer/amd64/linux http://10.0.2.2:8080/debian-installer/amd64/initrd.gz,http://10.0.2.2:8080/extra/firmware.cpio.gz',
  ].join('\n'));
});

test('renderTemplate reads the named file through read, and optional values can be tested', async () => {
  const read = release({ 'icboot/templates/preseed.cfg': 'd-i netcfg/get_hostname string {% if selectors.hostname %}{{ selectors.hostname }}{% else %}{{ metadata.fallback | default: "debian" }}{% endif %}\n' });
  assert.equal(await renderTemplate(context({ selectors: { hostname: 'web1' } }), 'preseed', read), 'd-i netcfg/get_hostname string web1\n');
  assert.equal(await renderTemplate(context({ selectors: {} }), 'preseed', read), 'd-i netcfg/get_hostname string debian\n');
});

test('values are data: template syntax in metadata or selectors renders literally, and normaliseSelectors refuses it in a hostname', async () => {
  const literal = '{% raw %}{{x}}{% endraw %} {{ y }} ${x} <b>&amp;';
  assert.equal(await template('{{ metadata.t }}|{{ selectors.hostname }}', context({ group: { metadata: { t: literal } }, selectors: { hostname: '{{ metadata.t }}' } })),
    `${literal}|{{ metadata.t }}`);
  const c = context({ group: { metadata: { t: '{{x}}{%raw%}' } }, profile: { args: 'a={{ metadata.t }}' } });
  assert.match(await ipxeScript(c, noFiles), / a=\{\{x\}\}\{%raw%\}\n/);
  for (const hostname of ['{{x}}', '${x}', '{%raw%}', 'a b', 'a;b']) {
    const n = normaliseSelectors({ hostname });
    assert.equal(n.ok, false, hostname);
  }
});

test('no file system: include, render and layout find nothing', async () => {
  for (const text of ['{% include "/etc/passwd" %}', '{% render "package.json" %}', '{% layout "render.ts" %}x', '{% include "icboot/templates/t" %}']) {
    await assert.rejects(template(text), isRenderError('template'), text);
  }
});

test('unknown template: not in the profile, including inherited property names', async () => {
  for (const name of ['user-data', 'constructor', '__proto__', 'toString']) {
    await assert.rejects(renderTemplate(context(), name, noFiles), isRenderError('unknown-template'), name);
  }
});

test('missing file: the template the profile names is not in the release', async () => {
  await assert.rejects(renderTemplate(context(), 'preseed', noFiles), (e) => isRenderError('missing-file')(e) && (e as Error).message.includes('icboot/templates/preseed.cfg'));
});

test('template errors: syntax, unknown variable, unknown filter, not UTF-8, too long', async () => {
  for (const text of ['{{ selectors.mac', '{% if %}x{% endif %}', '{% for x in %}', '{{ nope }}', '{{ metadata.nope }}', '{{ selectors.hostname }}', '{{ kernel | nope }}']) {
    await assert.rejects(template(text), isRenderError('template'), text);
  }
  await assert.rejects(ipxeScript(context({ profile: { args: '{{ metadata.missing }}' } }), noFiles), isRenderError('template'));
  await assert.rejects(grubConfig(context({ profile: { args: '{% if' } }), noFiles), isRenderError('template'));
  const c = context();
  const bad = renderTemplate({ ...c, profile: { ...c.profile, templates: { t: 'b' } } }, 't', release({ b: new Uint8Array([0x41, 0xff, 0xfe]) }));
  await assert.rejects(bad, isRenderError('template'));
  await assert.rejects(template('x'.repeat(MAX_TEMPLATE_BYTES + 1)), isRenderError('template'));
});

test('a hostile template hits a limit and fails with a RenderError', async () => {
  const hostile = [
    '{% for i in (1..1000000000) %}x{% endfor %}', // memory: the range alone
    '{% for i in (1..100000) %}{% for j in (1..100000) %}{% for k in (1..100000) %}x{% endfor %}{% endfor %}{% endfor %}', // time
    '{% assign s = "xxxxxxxxxx" %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}{{ s | size }}', // memory: doubling
    `{% for i in (1..${MAX_OUTPUT_CHARS / 1000 + 1}) %}{{ metadata.k }}{% endfor %}`, // output size
    '{% if true %}'.repeat(10000) + '{% endif %}'.repeat(10000), // nesting deeper than the parser's stack
  ];
  for (const text of hostile) {
    await assert.rejects(template(text, context({ group: { metadata: { k: 'k'.repeat(1000) } } })), isRenderError('template'), text.slice(0, 60));
  }
});

test('bootIpxe chains to /ipxe with iPXE settings that arrive URL-safe, and retries the fetch rather than leaving iPXE', () => {
  const script = bootIpxe({ http: 'http://10.0.2.2:8080/', tftp: '10.0.2.2:69' });
  const lines = script.split('\n');
  assert.equal(lines[0], '#!ipxe');
  const chain = lines.find((l) => l.startsWith('chain '));
  assert.equal(chain, 'chain http://10.0.2.2:8080/ipxe?mac=${mac:hexhyp}&uuid=${uuid}&buildarch=${buildarch}&platform=${platform}'
    + '&hostname=${hostname:uristring}&serial=${serial:uristring} || goto icboot_failed');
  assert.ok(lines.includes(':icboot') && lines.includes(':icboot_failed') && lines.includes('goto icboot'));
  assert.ok(lines.some((l) => /^sleep \d+$/.test(l)));
  for (const l of lines.filter((l) => l.startsWith('echo '))) assert.doesNotMatch(l, /\$\{|\s#|\s(\|\||&&|;)(\s|$)/);
});

test('noMatchIpxe prints the reason, neutralised for iPXE, and stops in the shell', () => {
  const script = noMatchIpxe('no group matches mac=52:54:00:12:34:56 ${evil} # x || y ; z\nshell');
  const lines = script.trimEnd().split('\n');
  assert.equal(lines[0], '#!ipxe');
  assert.equal(lines.at(-1), 'shell');
  assert.ok(!lines.includes('exit') && !lines.some((l) => l.startsWith('exit ')));
  const echoes = lines.filter((l) => l.startsWith('echo '));
  assert.equal(echoes.length, lines.length - 2, 'only echo lines between #!ipxe and shell');
  assert.ok(echoes[0].includes('no group matches mac=52:54:00:12:34:56'));
  for (const l of echoes) assert.doesNotMatch(l, /[${}#|&;]/);
  // A long reason is cut so it fits a console, not scrolled away.
  for (const l of noMatchIpxe('x'.repeat(10_000)).split('\n')) assert.ok(l.length < 512, `${l.length} characters`);
});

// The systemd unit we ship (samples/icboot-gateway.service): systemd itself
// must accept it, it must start the gateway only once the network (and
// libvirt's bridge) can be up, and it may use only flags `icboot gateway` has.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO } from '../../lab/devnet.ts';
import { run } from '../../lab/gateway.ts';

const UNIT = join(REPO, 'samples', 'icboot-gateway.service');

/** `Key=value` lines of one [Section], in order (systemd allows a key more than once). */
function entries(text: string, section: string): [string, string][] {
  let current = '';
  const out: [string, string][] = [];
  for (const line of text.split('\n')) {
    const header = /^\[(.+)\]$/.exec(line.trim());
    if (header) current = header[1];
    else if (current === section && /^[A-Za-z]+=/.test(line)) {
      const at = line.indexOf('=');
      out.push([line.slice(0, at), line.slice(at + 1)]);
    }
  }
  return out;
}

describe('systemd unit', () => {
  const text = readFileSync(UNIT, 'utf8');

  it('passes systemd-analyze verify without a warning', async () => {
    const r = await run('systemd-analyze', ['verify', UNIT]);
    assert.notEqual(r.code, 127, 'systemd-analyze is missing: apt-get install systemd');
    assert.equal(r.code, 0, r.stderr);
    // verify reports unknown keys and bad values on stderr but still exits 0.
    assert.equal(r.stderr.trim(), '');
  });

  it('starts after the network is online and after libvirtd', () => {
    const unit = entries(text, 'Unit');
    const values = (key: string): string[] => unit.filter(([k]) => k === key).flatMap(([, v]) => v.split(/\s+/));
    assert.ok(values('After').includes('network-online.target'));
    assert.ok(values('After').includes('libvirtd.service'));
    assert.ok(values('Wants').includes('network-online.target'));
  });

  it('runs `icboot gateway` with flags it has', async () => {
    const exec = entries(text, 'Service').find(([k]) => k === 'ExecStart')?.[1] ?? '';
    const args = exec.split(/\s+/);
    assert.equal(args[2], 'gateway', exec);
    const help = await run(process.execPath, [join(REPO, 'cli', 'icboot.js'), 'gateway', '--help']);
    assert.equal(help.code, 0, help.stderr);
    for (const flag of args.filter((a) => a.startsWith('--'))) assert.match(help.stdout, new RegExp(`\\s${flag}\\b`), `${flag} is not a gateway flag`);
  });
});

// The one rule from a requested name to a tree path, for TFTP and HTTP alike.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { targetPath } from './http.ts';
import { requestPath } from './path.ts';

describe('request paths', () => {
  it('reads names as a file system would', () => {
    for (const [name, path] of [
      ['pxelinux.0', 'pxelinux.0'], ['/pxelinux.0', 'pxelinux.0'], ['//version.info', 'version.info'],
      ['pxelinux.cfg//default', 'pxelinux.cfg/default'], ['./a/./b', 'a/b'], ['\\boot\\grub.cfg', 'boot/grub.cfg'], ['café.txt', 'café.txt'],
    ]) assert.deepEqual(requestPath(name), { ok: true, path }, name);
  });

  it('refuses traversal, control characters and over-long names; an empty name is simply not found', () => {
    for (const name of ['../etc/passwd', 'a/../../b', 'a\\..\\b', 'a\u0001b', 'a\u007fb', 'x'.repeat(1025)]) {
      const r = requestPath(name);
      assert.ok(!r.ok && r.refused, name);
    }
    assert.deepEqual(requestPath('//'), { ok: false, refused: false, message: 'no file named' });
  });

  it('takes the path of an HTTP request target', () => {
    assert.equal(targetPath('//version.info'), '//version.info');
    assert.equal(targetPath('/caf%C3%A9.txt?x=1#y'), '/café.txt');
    assert.equal(targetPath('http://gateway:8080/a/b'), '/a/b');
    assert.equal(targetPath('/%E0%A4%A'), null);
  });
});

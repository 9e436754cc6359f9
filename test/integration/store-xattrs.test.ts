/**
 * Extended attributes of layer files (objects are named by content + mode + owner +
 * xattrs): file capabilities and user.* attributes from PAX headers (GNU tar's SCHILY.xattr and
 * libarchive's LIBARCHIVE.xattr) reach the checkout as `umoci unpack` gives them; build-host
 * labels do not; fsck checks them. Needs root (setcap), attr's getfattr/setfattr, umoci.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sysctr } from '../helpers/cli.js';
import { busyboxEntries, buildImage, writeOciLayout } from '../helpers/images.js';
import { requirePrereqs } from '../helpers/prereq.js';

if (!requirePrereqs(t, ['setcap', 'getcap', 'setfattr', 'getfattr', 'umoci', 'tar'])) process.exit(0);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-xattrs-'));
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
const root = path.join(work, 'root');
const run = (args: string[]) => sysctr(args, { env: { SYSCTR_ROOT: root } });
/** name=value lines of getfattr, for the attributes a root filesystem keeps */
const attrs = (file: string) =>
  execFileSync('getfattr', ['--absolute-names', '-d', '-m', '-', '-e', 'base64', file], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => /^(security\.capability|user\.)/.test(l))
    .sort();

t.test('GNU tar --xattrs: capabilities and user attributes as umoci unpacks them', async (t) => {
  // a tree with a capability-carrying binary, and the same bytes without any attribute
  const src = path.join(work, 'src');
  fs.mkdirSync(path.join(src, 'bin'), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(src, 'bin/ping'));
  fs.copyFileSync('/bin/busybox', path.join(src, 'bin/plain'));
  execFileSync('setcap', ['cap_net_raw+ep', path.join(src, 'bin/ping')]);
  execFileSync('setfattr', ['-n', 'user.note', '-v', 'hello', path.join(src, 'bin/ping')]);
  fs.writeFileSync(path.join(src, 'small'), 'small file\n');
  execFileSync('setfattr', ['-n', 'user.small', '-v', '0x00ff00', path.join(src, 'small')]);
  const tarFile = path.join(work, 'layer.tar');
  execFileSync('tar', ['--xattrs', '--xattrs-include=*', '-C', src, '-cf', tarFile, '.']);
  const layout = path.join(work, 'layout');
  execFileSync(process.execPath, [path.join(import.meta.dirname, '../../bench/make-layout.mjs'), tarFile, layout, 'x']);

  const pull = await run(['pull', `oci:${layout}:x`]);
  t.equal(pull.exitCode, 0, pull.stderr);
  const co = path.join(work, 'co');
  t.equal((await run(['checkout', 'layout:x', co])).exitCode, 0);
  t.match(execFileSync('getcap', [path.join(co, 'bin/ping')], { encoding: 'utf8' }), /cap_net_raw=ep/, 'the file capability is there');
  t.same(attrs(path.join(co, 'bin/ping')), attrs(path.join(src, 'bin/ping')), 'all kept attributes, values byte for byte');
  t.same(attrs(path.join(co, 'small')), ['user.small=0sAP8A'], 'a binary value (NUL bytes) in a small file');
  t.same(attrs(path.join(co, 'bin/plain')), [], 'the same bytes without attributes have none');
  t.not(fs.statSync(path.join(co, 'bin/ping')).ino, fs.statSync(path.join(co, 'bin/plain')).ino, 'and are another object');

  const bundle = path.join(work, 'bundle');
  execFileSync('umoci', ['unpack', '--image', `${layout}:x`, bundle], { stdio: 'ignore' });
  for (const f of ['bin/ping', 'bin/plain', 'small']) t.same(attrs(path.join(co, f)), attrs(path.join(bundle, 'rootfs', f)), `${f}: as umoci unpack gives it`);

  t.equal((await run(['fsck'])).exitCode, 0, 'fsck re-hashes them with their attributes');
  // an attribute taken off the object is damage
  const obj = fs.readdirSync(path.join(root, 'store/objects'), { recursive: true })
    .map((p) => path.join(root, 'store/objects', String(p)))
    .find((p) => fs.statSync(p).isFile() && fs.statSync(p).ino === fs.statSync(path.join(co, 'bin/ping')).ino)!;
  execFileSync('setfattr', ['-x', 'user.note', obj]);
  const r = await run(['fsck']);
  t.equal(r.exitCode, 1);
  t.match(r.stdout, /object-damaged/);
  t.equal((await run(['fsck', '--repair'])).exitCode, 0);
});

t.test('libarchive-style attributes are read; build-host labels are left out', async (t) => {
  const image = buildImage({
    layers: [
      {
        entries: [
          ...busyboxEntries(['sh']),
          {
            path: 'etc/labelled',
            content: 'x\n',
            pax: [
              ['LIBARCHIVE.xattr.user.from%20libarchive', Buffer.from('v1').toString('base64')],
              ['SCHILY.xattr.security.selinux', 'system_u:object_r:etc_t:s0\0'],
              ['SCHILY.xattr.trusted.overlay.opaque', 'y'],
            ],
          },
        ],
      },
    ],
  });
  const layout = path.join(work, 'layout2');
  writeOciLayout(layout, [{ image, ref: '1' }]);
  t.equal((await run(['pull', `oci:${layout}:1`])).exitCode, 0);
  const co = path.join(work, 'co2');
  t.equal((await run(['checkout', 'layout2:1', co])).exitCode, 0);
  const all = execFileSync('getfattr', ['--absolute-names', '-d', '-m', '-', path.join(co, 'etc/labelled')], { encoding: 'utf8' });
  t.match(all, /user\.from libarchive="v1"/, 'LIBARCHIVE.xattr, name URL-decoded, value base64-decoded');
  t.notMatch(all, /selinux|overlay/, 'no SELinux label or overlayfs internals from the build host');
});

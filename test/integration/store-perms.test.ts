/**
 * Nobody but the store's owner reaches it: the state root and the store are 0700 whatever the
 * umask, so an image's world-writable or set-uid files and its uid-1000 files cannot be changed or
 * run by other users of the host through the store (or through a deployment, which hardlinks the
 * same inodes inside the same root). An old world-readable root is tightened; a root that belongs
 * to another user is refused. Run as root, with other users played by runuser/setpriv.
 */
import t from 'tap';
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sysctrBin } from '../helpers/cli.js';
import { buildImage, writeOciLayout } from '../helpers/images.js';
import { requirePrereqs } from '../helpers/prereq.js';

if (!requirePrereqs(t, ['setpriv', 'runuser'])) process.exit(0);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-perms-'));
fs.chmodSync(work, 0o755); // other users may reach the test's files, as they could reach /var/lib
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));

const layout = path.join(work, 'layout');
writeOciLayout(layout, [
  {
    ref: 'v1',
    image: buildImage({
      layers: [
        {
          entries: [
            { path: 'etc', type: 'dir', mode: 0o755 },
            { path: 'etc/open', content: 'anyone may write me\n', mode: 0o666 },
            { path: 'etc/suid', content: '#!/bin/sh\necho root\n', mode: 0o4755 },
            { path: 'etc/user1000', content: 'owned by 1000\n', mode: 0o644, uid: 1000, gid: 1000 },
          ],
        },
      ],
    }),
  },
]);

/** sysctr as root, with a umask (the shell's, as a user's login would set it) */
async function sysctrAs(args: string[], env: Record<string, string>, umask = '022') {
  return execa('sh', ['-c', `umask ${umask}; exec "$0" "$@"`, process.execPath, sysctrBin, ...args], { env, reject: false });
}

/** the store object of an image file: the checkout hardlinks it, so its inode is the object's */
function objectOf(root: string, checkout: string, file: string): string {
  const ino = fs.statSync(path.join(checkout, file)).ino;
  const objects = path.join(root, 'store/objects');
  for (const d of fs.readdirSync(objects)) {
    for (const f of fs.readdirSync(path.join(objects, d))) if (fs.statSync(path.join(objects, d, f)).ino === ino) return path.join(objects, d, f);
  }
  throw new Error(`no object for ${file}`);
}

const asUser = (uid: number, cmd: string[]) =>
  execa('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', ...cmd], { reject: false, env: { PATH: '/usr/bin:/bin' } });

t.test('a new state root and store are 0700, even with umask 000', async (t) => {
  const root = path.join(work, 'fresh');
  const r = await sysctrAs(['pull', '-q', `oci:${layout}:v1`], { SYSCTR_ROOT: root }, '000');
  t.equal(r.exitCode, 0, r.stderr);
  t.equal(fs.statSync(root).mode & 0o777, 0o700, 'state root');
  t.equal(fs.statSync(path.join(root, 'store')).mode & 0o777, 0o700, 'store');
  const writable = await execa('find', [root, '-perm', '-o+w', '!', '-type', 'l', '!', '-path', '*/objects/*/*'], { reject: false });
  t.equal(writable.stdout, '', 'no directory or file of the store is world-writable (objects aside: they keep the image modes, behind 0700)');

  const checkout = path.join(root, 'co'); // inside the root, as a deployment is
  t.equal((await sysctrAs(['checkout', 'layout:v1', checkout], { SYSCTR_ROOT: root })).exitCode, 0);
  const open = objectOf(root, checkout, 'etc/open');
  t.equal(fs.statSync(open).mode & 0o7777, 0o666, 'the object keeps the image mode (the container sees it so)');
  for (const [uid, file, what] of [
    [65534, open, 'a 0666 file, by nobody'],
    [1000, objectOf(root, checkout, 'etc/user1000'), 'a uid-1000 file, by the host uid 1000'],
  ] as const) {
    const w = await asUser(uid, ['sh', '-c', `echo changed >> "${file}"`]);
    t.not(w.exitCode, 0, `${what}: not writable`);
    t.match(w.stderr, /Permission denied/);
    const viaCheckout = await asUser(uid, ['sh', '-c', `echo changed >> "${path.join(checkout, 'etc/open')}"`]);
    t.not(viaCheckout.exitCode, 0, `${what}: not through the deployment path either`);
  }
  const run = await asUser(65534, [objectOf(root, checkout, 'etc/suid')]);
  t.not(run.exitCode, 0, 'a set-uid-root object cannot be run by another user');
  t.equal(fs.readFileSync(open, 'utf8'), 'anyone may write me\n', 'the content is unchanged');
});

t.test('an old world-readable state root is tightened; one of another user is refused', async (t) => {
  const old = path.join(work, 'old');
  fs.mkdirSync(path.join(old, 'store'), { recursive: true, mode: 0o755 });
  fs.chmodSync(old, 0o755);
  const r = await sysctrAs(['images', 'list', '-q'], { SYSCTR_ROOT: old });
  t.equal(r.exitCode, 0, r.stderr);
  t.equal(fs.statSync(old).mode & 0o777, 0o700);
  t.equal(fs.statSync(path.join(old, 'store')).mode & 0o777, 0o700);

  const foreign = path.join(work, 'foreign');
  fs.mkdirSync(foreign, { mode: 0o755 });
  fs.chownSync(foreign, 65534, 65534);
  const f = await sysctrAs(['pull', '-q', `oci:${layout}:v1`], { SYSCTR_ROOT: foreign });
  t.equal(f.exitCode, 1);
  t.match(f.stderr, `${foreign} belongs to uid 65534, not to uid 0; refused`);
  t.equal(fs.statSync(foreign).mode & 0o777, 0o755, 'left as it was');
  t.same(fs.readdirSync(foreign), [], 'nothing written in it');
});

t.test('a user who cannot give files their owners gets a clear error, not a crash', async (t) => {
  // the layout is readable by others; the user's own root is theirs (as ~/.local/share would be)
  const root = path.join(work, 'as-nobody');
  fs.mkdirSync(root, { mode: 0o700 });
  fs.chownSync(root, 65534, 65534);
  const r = await execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, sysctrBin, 'pull', '-q', `oci:${layout}:v1`], {
    reject: false,
    env: { PATH: '/usr/bin:/bin', SYSCTR_ROOT: root, HOME: root },
    extendEnv: false, // not the test runner's NODE_OPTIONS, which write where this user may not
  });
  t.equal(r.exitCode, 1, `exit 1: ${r.stderr}`);
  t.match(r.stderr, /^sysctr: writing store objects: .*(EPERM|not permitted)/m);
  t.match(r.stderr, /hint: /);
  t.notMatch(r.stderr, /internal error|TypeError|ERR_INVALID_ARG_TYPE/);
});

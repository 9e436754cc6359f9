/**
 * The user namespace's mapping as pure logic (lib/userns.ts): subuid(5) lines read as newuidmap
 * reads them, the mapping podman uses (0 → the user, 1.. → the ranges), the error for a user with
 * none, the owner check against a namespace's map (a fake /proc), and which command lines of a plain
 * user run in the namespace (cli/userns-argv.ts). The real namespace, made by newuidmap for a real
 * user, is in test/integration/rootless-store.test.ts.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SysctrError } from '../../lib/errors.js';
import { describeMapping, hostIds, idChecker, isPlainUser, mappingsFrom, namespaceMappings, parseSubIds, UnmappedIdError, userMappings } from '../../lib/userns.js';
import { userNamespaceNeed } from '../../cli/userns-argv.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-userns-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

t.test('subuid lines: by name or uid, in file order, malformed and empty ranges skipped', async (t) => {
  const text = ['# comment', 'alice:100000:65536', 'bob:165536:65536', '1001:300000:1000', 'alice:x:1', 'alice:500000:0', '', 'alice:400000:10'].join('\n');
  t.same(parseSubIds(text, { name: 'alice', id: 1001 }), [{ start: 100000, count: 65536 }, { start: 300000, count: 1000 }, { start: 400000, count: 10 }]);
  t.same(parseSubIds(text, { name: 'carol', id: 1002 }), []);
});

t.test('the mapping: 0 is the user, the ranges follow one after the other', async (t) => {
  t.same(mappingsFrom(1001, [{ start: 100000, count: 65536 }, { start: 300000, count: 1000 }]), [
    { containerID: 0, hostID: 1001, size: 1 },
    { containerID: 1, hostID: 100000, size: 65536 },
    { containerID: 65537, hostID: 300000, size: 1000 },
  ]);
});

t.test('userMappings reads both files; a user missing from either gets the file and the fix', async (t) => {
  const subuid = path.join(tmp, 'subuid');
  const subgid = path.join(tmp, 'subgid');
  fs.writeFileSync(subuid, 'alice:100000:65536\n');
  fs.writeFileSync(subgid, 'alice:200000:65536\n');
  const m = userMappings({ name: 'alice', uid: 1001, gid: 1002 }, { subuid, subgid });
  t.same(m.uidMappings, [{ containerID: 0, hostID: 1001, size: 1 }, { containerID: 1, hostID: 100000, size: 65536 }]);
  t.same(m.gidMappings, [{ containerID: 0, hostID: 1002, size: 1 }, { containerID: 1, hostID: 200000, size: 65536 }]);

  fs.writeFileSync(subgid, 'bob:200000:65536\n');
  const err = t.throws(() => userMappings({ name: 'alice', uid: 1001, gid: 1001 }, { subuid, subgid })) as SysctrError;
  t.ok(err instanceof SysctrError, 'a user error, not a bug');
  t.equal(err.code, 1);
  t.match(err.message, `no subordinate gids in ${subgid}`);
  t.notMatch(err.message, subuid, 'names only the file that lacks the user');
  t.equal(err.hint, 'ask root to add a range that no other user has: usermod --add-subgids 100000-165535 alice');

  const none = t.throws(() => userMappings({ name: 'carol', uid: 1003, gid: 1003 }, { subuid: path.join(tmp, 'absent'), subgid })) as SysctrError;
  t.match(none.message, `user carol has no subordinate uids or gids in ${path.join(tmp, 'absent')} and ${subgid}`);
  t.match(none.hint, 'usermod --add-subuids 100000-165535 --add-subgids 100000-165535 carol');
});

/** A fake /proc/self with these maps. */
function fakeProc(uidMap: string, gidMap: string): string {
  const dir = fs.mkdtempSync(path.join(tmp, 'proc-'));
  fs.mkdirSync(path.join(dir, 'self'));
  fs.writeFileSync(path.join(dir, 'self/uid_map'), uidMap);
  fs.writeFileSync(path.join(dir, 'self/gid_map'), gidMap);
  return dir;
}

t.test('the initial namespace: no mapping, no check, the process ids are the host ids', async (t) => {
  const proc = fakeProc('         0          0 4294967295\n', '         0          0 4294967295\n');
  t.equal(namespaceMappings(proc), undefined);
  t.equal(idChecker(proc), undefined, 'root may give any owner');
  t.same(hostIds(proc), { uid: process.getuid!(), gid: process.getgid!() });
  t.equal(isPlainUser(proc), process.getuid!() !== 0);
});

t.test('in a user namespace: owners outside the map are refused with the id, the file and the range', async (t) => {
  const proc = fakeProc('0 1001 1\n1 100000 65536\n', '0 1001 1\n1 200000 65536\n');
  t.same(namespaceMappings(proc)?.uidMappings, [{ containerID: 0, hostID: 1001, size: 1 }, { containerID: 1, hostID: 100000, size: 65536 }]);
  const check = idChecker(proc)!;
  t.doesNotThrow(() => check(0, 0, 'etc/passwd'));
  t.doesNotThrow(() => check(65536, 42, 'srv/top'), 'the last mapped id');
  const u = t.throws(() => check(65537, 0, 'srv/far')) as UnmappedIdError;
  t.ok(u instanceof UnmappedIdError && u instanceof SysctrError);
  t.match(u.message, '"srv/far" is owned by uid 65537, outside the uids of this user\'s namespace, 0-65536 (on the host: 0 as 1001, 1-65536 as 100000-165535)');
  t.match(u.message, 'potentially insufficient UIDs or GIDs available in user namespace (requested 65537:0 for /srv/far)');
  t.match(u.hint, '/etc/subuid');
  const g = t.throws(() => check(0, 70000, 'etc/shadow')) as UnmappedIdError;
  t.match(g.message, 'gid 70000');
  t.match(g.message, '1-65536 as 200000-265535');
  t.match(g.hint, '/etc/subgid');
  if (process.getuid!() === 0) {
    t.same(hostIds(proc), { uid: 1001, gid: 1001 }, 'id 0 inside is the user outside');
    t.ok(isPlainUser(proc), 'a plain user, though process.getuid() says 0');
  }
});

t.test('describeMapping joins adjacent ranges and keeps gaps', async (t) => {
  t.equal(describeMapping([{ containerID: 0, hostID: 5, size: 1 }, { containerID: 1, hostID: 100, size: 9 }, { containerID: 20, hostID: 300, size: 5 }]),
    '0-9, 20-24 (on the host: 0 as 5, 1-9 as 100-108, 20-24 as 300-304)');
});

t.test('which command lines of a plain user run in the namespace', async (t) => {
  const yes = [
    ['pull', '--user', 'oci:x:y'], ['--user', 'pull', 'x'], ['images', 'list', '--user'], ['images', 'prune', '--user=true'], ['fsck', '--user'],
    ['checkout', '--user', 'img', 'dir'], ['install', '--user', '--name', 'pull', 'img'], ['uninstall', '--user', 'x'],
    ['containers', 'update', '--user', 'x'], ['containers', 'rollback', '--user', 'x'], ['--root', 'start', 'pull', '--user', 'x'], ['backup', '--user', 'x'], ['restore', '--user', 'f'],
  ];
  const no = [
    ['pull', 'x'], ['pull', '--user', '--help'], ['containers', 'list', '--user'], ['containers', 'info', '--user', 'x'], ['start', '--user', 'x'], ['stop', '--user', 'x'],
    ['run', '--user', 'x', 'pull'], ['render', '--user', 'x'], ['lint', 'x'], ['trust', 'show', '--user'], ['--root', 'pull', 'start', '--user', 'x'], ['--version', 'pull', '--user'],
  ];
  for (const a of yes) t.equal(userNamespaceNeed(a, {}), 'required', a.join(' '));
  for (const a of no) t.equal(userNamespaceNeed(a, {}), undefined, a.join(' '));
  t.equal(userNamespaceNeed(['pull', '--root', '/home/a/store', 'x'], {}), 'if-mapped', 'a store of their own named with --root');
  t.equal(userNamespaceNeed(['fsck', '--root=/home/a/store'], {}), 'if-mapped');
  t.equal(userNamespaceNeed(['images', 'list'], { SYSCTR_ROOT: '/home/a/store' }), 'if-mapped', 'or SYSCTR_ROOT');
  t.equal(userNamespaceNeed(['images', 'list', '--user'], { SYSCTR_ROOT: '/home/a/store' }), 'required', '--user wins');
  t.equal(userNamespaceNeed(['images', 'list'], { SYSCTR_ROOT: '' }), undefined);
});

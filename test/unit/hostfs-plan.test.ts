/**
 * The pure logic of host files (lib/deploy/hostfs-plan.ts): renameFiles paths, the checks on a
 * rendered host path, template rendering with file:line:col errors, and what to do with a file
 * that is unchanged, changed, absent or foreign.
 */
import t from 'tap';
import crypto from 'node:crypto';
import { badHostPath, decide, isForeign, missingParents, planHostFiles, renamePath, renderRenames, type HostEntry, type HostState } from '../../lib/hostfs/plan.js';

const sha = (s: string) => crypto.createHash('sha256').update(s).digest('hex');
const roots = { hostRoot: '/', stateRoot: '/var/lib/containers/sysctr' };

t.test('renamePath: a file, a directory prefix, untouched paths', async (t) => {
  const r = new Map([
    ['/etc/etcd/etcd.conf', '/etc/etcd-a/etcd.conf'],
    ['/usr/local/bin/etcdctl', '/usr/local/bin/etcd-actl'],
    ['/etc/app', '/srv/conf/app'],
  ]);
  t.equal(renamePath('/etc/etcd/etcd.conf', r), '/etc/etcd-a/etcd.conf');
  t.equal(renamePath('/usr/local/bin/etcdctl', r), '/usr/local/bin/etcd-actl');
  t.equal(renamePath('/etc/app/a/b.conf', r), '/srv/conf/app/a/b.conf', 'a renamed directory moves what is in it');
  t.equal(renamePath('/etc/apparmor.d/x', r), '/etc/apparmor.d/x', 'a prefix of a name is not a directory prefix');
  t.equal(renamePath('/etc/etcd/other.conf', r), '/etc/etcd/other.conf');
});

t.test('badHostPath', async (t) => {
  t.equal(badHostPath('/etc/x', roots), undefined);
  t.match(badHostPath('etc/x', roots), /not an absolute path/);
  t.match(badHostPath('/etc/../x', roots), /contains "\.\."/);
  t.match(badHostPath('/etc//x', roots), /not normalised \(\/etc\/x\)/);
  t.match(badHostPath('/etc/./x', roots), /not normalised/);
  t.match(badHostPath('/etc/x/', roots), /not normalised/);
  t.match(badHostPath('/', roots), /root directory/);
  t.match(badHostPath('/var/lib/containers/sysctr/web.0/x', roots), /inside sysctr's state root/);
  t.match(badHostPath('/var/lib/containers/sysctr', roots), /inside sysctr's state root/);
  t.equal(badHostPath('/var/lib/containers/sysctr2/x', roots), undefined, 'a sibling with a longer name is fine');
  t.match(badHostPath('/x', { hostRoot: '/tmp/h', stateRoot: '/tmp/h/x' }), /state root/, 'seen through the host root');
});

t.test('renderRenames: values, and errors at manifest.json:line:col', async (t) => {
  const text = '{\n  "renameFiles": {\n    "/etc/etcd/etcd.conf": "$CONF_DIRECTORY/$NAME/etcd.conf",\n    "/usr/local/bin/etcdctl": "/usr/local/bin/${NAME}ctl"\n  }\n}\n';
  const m = JSON.parse(text).renameFiles as Record<string, string>;
  const r = renderRenames(text, m, { CONF_DIRECTORY: '/etc', NAME: 'etcd-a' });
  t.same([...r], [['/etc/etcd/etcd.conf', '/etc/etcd-a/etcd.conf'], ['/usr/local/bin/etcdctl', '/usr/local/bin/etcd-actl']]);
  // "$CONF_DIRECTORY/..." starts at line 3 col 28 (its quote): the variable is one further
  t.throws(() => renderRenames(text, m, { NAME: 'x' }), { message: 'manifest.json:3:29: variable CONF_DIRECTORY has no value; set it with --set CONF_DIRECTORY=...' });
});

const files = [
  { source: '/etc/app/app.conf', type: 'f' as const, mode: 0o644, content: Buffer.from('name=$NAME\nport=${PORT}\n') },
  { source: '/etc/app/plain.conf', type: 'f' as const, mode: 0o4755, content: Buffer.from('$NOT_RENDERED\n') },
  { source: '/etc/app/link', type: 'l' as const, mode: 0o777, link: 'app.conf' },
  { source: '/var/lib/app', type: 'd' as const, mode: 0o750 },
];

t.test('planHostFiles: renamed, templates rendered, modes, sha256', async (t) => {
  const values = { NAME: 'web', PORT: '80' };
  const p = planHostFiles({ entries: files, manifest: { renameFiles: { '/etc/app': '/etc/$NAME' }, installedFilesTemplate: ['/etc/app/app.conf'] }, values, ...roots });
  t.same(p.map((e) => [e.path, e.type, e.mode.toString(8), e.template ?? false]), [
    ['/etc/web/app.conf', 'f', '644', true],
    ['/etc/web/link', 'l', '777', false],
    ['/etc/web/plain.conf', 'f', '755', false],
    ['/var/lib/app', 'd', '750', false],
  ], 'setuid dropped');
  t.equal(p[0].content!.toString(), 'name=web\nport=80\n');
  t.equal(p[0].sha256, sha('name=web\nport=80\n'));
  t.equal(p[2].content!.toString(), '$NOT_RENDERED\n', 'a file not listed is copied as it is');
  // listed by its host path (after renameFiles), as Atomic's images do
  const byTarget = planHostFiles({ entries: files, manifest: { renameFiles: { '/etc/app': '/etc/$NAME' }, installedFilesTemplate: ['/etc/web/app.conf'] }, values, ...roots });
  t.equal(byTarget[0].template, true);
  t.throws(() => planHostFiles({ entries: files, manifest: { installedFilesTemplate: ['/etc/app/app.conf'] }, values: { NAME: 'web' }, ...roots }), { message: /^hostfs\/etc\/app\/app\.conf:2:6: variable PORT has no value/ });
  t.throws(() => planHostFiles({ entries: files, manifest: { renameFiles: { '/etc/app': '$DIR' } }, values: { DIR: 'relative' }, ...roots }), { message: /host path "relative\/app\.conf" cannot be used: it is not an absolute path/ });
  t.throws(() => planHostFiles({ entries: files, manifest: { renameFiles: { '/etc/app/plain.conf': '/etc/app/app.conf' } }, values, ...roots }), { message: /hostfs\/etc\/app\/app\.conf and hostfs\/etc\/app\/plain\.conf would both be installed as \/etc\/app\/app\.conf/ });
  t.throws(() => planHostFiles({ entries: files, manifest: { renameFiles: { '/var/lib/app': '/etc/app/link/x' } }, values, ...roots }), { message: /inside \/etc\/app\/link/ });
});

const f = (s: string): HostEntry => ({ path: '/etc/x', source: '/etc/x', type: 'f', mode: 0o644, sha256: sha(s) });
const st = (s: string): HostState => ({ kind: 'file', sha256: sha(s) });
const absent: HostState = { kind: 'absent' };

t.test('decide: unchanged replaced, changed kept (FILE.sysctr-new), removed only when unchanged', async (t) => {
  const v1 = f('v1');
  const v2 = f('v2');
  t.equal(decide(v2, [v1, v2], st('v1')), 'write', 'unchanged since sysctr wrote v1: replaced');
  t.equal(decide(v2, [v1, v2], st('v2')), 'none', 'already v2 (a command killed after writing it)');
  t.equal(decide(v2, [v1, v2], st('edited')), 'write-new', 'changed: kept, v2 beside it');
  t.equal(decide(v2, [v1, v2], absent), 'write', 'absent: written');
  t.equal(decide(v2, [], st('foreign')), 'write-new', 'never overwrites what it did not write');
  t.equal(decide(v2, [], st('foreign'), true), 'write', '--force');
  t.equal(decide(v2, [v1], { kind: 'dir' }, true), 'write-new', 'a directory is never replaced by a file');
  t.equal(decide(undefined, [v1], st('v1')), 'remove', 'the new deployment no longer has it, unchanged: removed');
  t.equal(decide(undefined, [v1], st('edited')), 'keep-changed');
  t.equal(decide(undefined, [v1], absent), 'none');
  const link: HostEntry = { path: '/etc/l', source: '/etc/l', type: 'l', mode: 0o777, link: 'a' };
  t.equal(decide(link, [], { kind: 'link', link: 'a' }), 'none');
  t.equal(decide(undefined, [link], { kind: 'link', link: 'b' }), 'keep-changed', 'a symlink pointed elsewhere is a change');
  const dir: HostEntry = { path: '/var/d', source: '/var/d', type: 'd', mode: 0o755 };
  t.equal(decide(dir, [], { kind: 'dir' }), 'none');
  t.equal(decide(dir, [], absent), 'write');
  t.equal(decide(dir, [], st('x')), 'keep-changed');
  t.equal(decide(undefined, [dir], { kind: 'dir' }), 'none', 'directories go with createdDirs');
});

t.test('isForeign and missingParents', async (t) => {
  t.ok(isForeign(f('a'), st('b'), new Set()));
  t.ok(isForeign(f('a'), st('a'), new Set()), 'the same content is still not recorded');
  t.notOk(isForeign(f('a'), st('b'), new Set(['/etc/x'])), 'recorded by a deployment of the container');
  t.notOk(isForeign(f('a'), absent, new Set()));
  t.notOk(isForeign({ path: '/etc', source: '/etc', type: 'd', mode: 0o755 }, { kind: 'dir' }, new Set()), 'an existing directory is shared');
  const have = new Set(['/etc']);
  t.same(missingParents(['/etc/a/b/c.conf', '/etc/a/d.conf', '/usr/local/bin/x', '/top'], (d) => have.has(d)), ['/usr', '/etc/a', '/usr/local', '/etc/a/b', '/usr/local/bin']);
});

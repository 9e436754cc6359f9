/**
 * Host files (/exports/hostfs) with real files in temp dirs: state root, unit dir, tmpfiles dir
 * and host root (--host-root) all under a test directory; systemctl is recorded, not run
 * (RecordingRunner; the booted-systemd version is e2e-hostfs). install (renameFiles,
 * installedFilesTemplate, modes, a symlink, an empty directory, the sha256 record), update and
 * rollback with an administrator's edit, uninstall, a foreign file refused and taken over with
 * --force, rendering errors before anything is written, noContainerService.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { DryRunner, RecordingRunner } from '../../lib/proc.js';
import { resolvePaths, type Paths } from '../../lib/paths.js';
import { install } from '../../lib/deploy/install.js';
import { update } from '../../lib/deploy/update.js';
import { rollback } from '../../lib/deploy/rollback.js';
import { uninstall } from '../../lib/deploy/uninstall.js';
import { buildImage, entriesFromDir, writeOciLayout, type TarEntry } from '../helpers/images.js';
import { projectDir, sysctr } from '../helpers/cli.js';
import { requirePrereqs } from '../helpers/prereq.js';

// the store keeps owners (fchown): root only
if (!requirePrereqs(t, [])) process.exit(0);

const dir = t.testdir({});
const layout = path.join(dir, 'layout');
const root = path.join(dir, 'root');
const host = path.join(dir, 'host');

function imageEntries(v: string, patch: (entries: TarEntry[]) => TarEntry[] = (e) => e): TarEntry[] {
  const src = path.join(projectDir, `fixtures/images/hostfs-${v}`);
  return patch([
    ...entriesFromDir(path.join(src, 'exports'), 'exports/'),
    { path: 'exports/hostfs/var/lib/hf-data', type: 'dir', mode: 0o750 },
    ...entriesFromDir(path.join(src, 'rootfs')),
  ]);
}
const v1Manifest = JSON.parse(fs.readFileSync(path.join(projectDir, 'fixtures/images/hostfs-v1/exports/manifest.json'), 'utf8')) as { defaultValues: object };
/** v1 with manifest.json members replaced (defaultValues added to v1's) */
const withManifest = (m: { defaultValues?: object; [k: string]: unknown }) => (entries: TarEntry[]) => {
  const manifest = { ...v1Manifest, ...m, defaultValues: { ...v1Manifest.defaultValues, ...m.defaultValues } };
  return entries.map((e) => (e.path === 'exports/manifest.json' ? { ...e, content: Buffer.from(JSON.stringify(manifest, null, 2)) } : e));
};
const images = [
  { ref: 'v1', entries: imageEntries('v1') },
  { ref: 'v2', entries: imageEntries('v2') },
  {
    ref: 'undef',
    entries: imageEntries('v1', (es) => es.map((e) => (e.path === 'exports/hostfs/etc/hf-app/app.conf' ? { ...e, content: Buffer.from('a\nb=$NO_SUCH_VAR\n') } : e))),
  },
  { ref: 'dotdot', entries: imageEntries('v1', withManifest({ renameFiles: { '/etc/hf-app': '/etc/../$NAME' } })) },
  { ref: 'intoroot', entries: imageEntries('v1', withManifest({ renameFiles: { '/etc/hf-app': '/root/$NAME' } })) },
  { ref: 'renamevar', entries: imageEntries('v1', withManifest({ defaultValues: {}, renameFiles: { '/etc/hf-app': '/etc/$NAME/$WHERE' } })) },
  { ref: 'noservice', entries: imageEntries('v1', withManifest({ noContainerService: true, renameFiles: { '/etc/hf-app': '/etc/$NAME' }, installedFilesTemplate: ['/etc/hf-app/app.conf'], defaultValues: { GREETING: 'no service' } })) },
];
writeOciLayout(layout, images.map((i) => ({ image: buildImage({ layers: [{ entries: i.entries }], config: { Cmd: ['/usr/bin/run.sh'] } }), ref: i.ref })));
for (const i of images) {
  const r = await sysctr(['pull', '--root', root, `oci:${layout}:${i.ref}`]);
  if (r.exitCode !== 0) throw new Error(`pull ${i.ref}: ${r.stderr}`);
}

const paths: Paths = resolvePaths({ root, unitDir: path.join(dir, 'units'), tmpfilesDir: path.join(dir, 'tmpfiles'), hostRoot: host });
function ctx() {
  const lines: string[] = [];
  return { lines, ctx: { paths, runner: new RecordingRunner(), dryRun: false, out: (l: string) => lines.push(l), env: {} } };
}
const h = (p: string) => path.join(host, p);
const read = (p: string) => fs.readFileSync(h(p), 'utf8');
const exists = (p: string) => fs.existsSync(h(p)) || fs.lstatSync(h(p), { throwIfNoEntry: false }) !== undefined;
const sha = (p: string) => crypto.createHash('sha256').update(fs.readFileSync(h(p))).digest('hex');

t.test('install, admin edit, update, rollback, uninstall', async (t) => {
  fs.mkdirSync(h('etc'), { recursive: true }); // /etc exists on any host: not sysctr's to remove
  const { ctx: c1 } = ctx();
  await install(c1, { image: 'localhost/layout:v1', name: 'hf-int' });
  t.equal(read('etc/hf-int/app.conf'), '# rendered at install (installedFilesTemplate)\ngreeting=hello from v1\nport=8091\nname=hf-int\nprice=$5\n', 'template rendered at the renamed path');
  t.equal(read('etc/hf-int/static.conf'), 'static v1\n');
  t.equal(read('etc/hf-int/only-v1.conf'), 'only in v1\n');
  t.equal(fs.readlinkSync(h('etc/hf-int/current.conf')), 'app.conf', 'a symlink stays a symlink');
  t.equal(fs.statSync(h('usr/local/bin/hf-int-tool')).mode & 0o7777, 0o755, 'the image file\'s mode');
  t.equal(fs.statSync(h('etc/hf-int/static.conf')).mode & 0o7777, 0o644);
  t.equal(fs.statSync(h('etc/hf-int/static.conf')).uid, 0, 'owned by root');
  t.ok(fs.statSync(h('var/lib/hf-data')).isDirectory(), 'an empty hostfs directory is created');
  t.notOk(exists('etc/hf-app'), 'nothing at the hostfs path that was renamed');
  const recFile = path.join(root, 'hf-int.0/hostfiles.json');
  t.equal(fs.statSync(recFile).mode & 0o777, 0o600, 'the record is 0600');
  const rec = JSON.parse(fs.readFileSync(recFile, 'utf8')) as { files: Array<{ path: string; sha256?: string; source: string }>; createdDirs: string[] };
  t.equal(rec.files.find((f) => f.path === '/etc/hf-int/app.conf')?.sha256, sha('etc/hf-int/app.conf'), 'sha256 of what was written');
  t.equal(rec.files.find((f) => f.path === '/usr/local/bin/hf-int-tool')?.source, '/usr/local/bin/hf-tool');
  t.same(rec.createdDirs, ['/etc/hf-int', '/usr', '/usr/local', '/usr/local/bin', '/var', '/var/lib', '/var/lib/hf-data'], 'the directories sysctr made, not /etc');

  // the administrator edits app.conf
  fs.writeFileSync(h('etc/hf-int/app.conf'), 'greeting=edited by the admin\n');
  const { ctx: c2, lines: l2 } = ctx();
  const u = await update(c2, { name: 'hf-int', rebase: 'localhost/layout:v2' });
  t.equal(u.status, 'updated');
  t.equal(read('etc/hf-int/app.conf'), 'greeting=edited by the admin\n', 'the edited file is kept');
  t.match(read('etc/hf-int/app.conf.sysctr-new'), 'greeting=hello from v2\n', 'the new version beside it');
  t.ok(l2.some((l) => l.includes('warning:') && l.includes(h('etc/hf-int/app.conf')) && l.includes(h('etc/hf-int/app.conf.sysctr-new'))), 'a warning names both');
  t.equal(read('etc/hf-int/static.conf'), 'static v2\n', 'an unchanged file is replaced');
  t.equal(read('usr/local/bin/hf-int-tool'), '#!/bin/sh\necho "hf-tool v2"\n');
  t.equal(read('etc/hf-int/new-in-v2.conf'), 'new in v2\n', 'a new file is written');
  t.notOk(exists('etc/hf-int/only-v1.conf'), 'a file v2 no longer has is removed');

  // rollback --dry-run: the host files as diffs, nothing written
  const dryLines: string[] = [];
  const before = fs.readdirSync(h('etc/hf-int')).sort();
  await rollback({ paths, runner: new DryRunner(() => {}), dryRun: true, out: (l: string) => dryLines.push(l), env: {} }, 'hf-int');
  const dry = dryLines.join('\n');
  t.match(dry, `would change ${h('etc/hf-int/static.conf')}:\n--- ${h('etc/hf-int/static.conf')}`, 'dry rollback: a diff');
  t.match(dry, '-static v2\n+static v1');
  t.match(dry, `would write ${h('etc/hf-int/only-v1.conf')}:\nonly in v1`);
  t.match(dry, `would remove ${h('etc/hf-int/new-in-v2.conf')}`);
  t.match(dry, `would keep ${h('etc/hf-int/app.conf')} (changed since sysctr wrote it) and put the new version in ${h('etc/hf-int/app.conf.sysctr-new')}`);
  t.same(fs.readdirSync(h('etc/hf-int')).sort(), before, 'dry rollback wrote nothing');
  t.equal(read('etc/hf-int/static.conf'), 'static v2\n');

  const { ctx: c3 } = ctx();
  await rollback(c3, 'hf-int');
  t.equal(read('etc/hf-int/static.conf'), 'static v1\n', 'rollback restores the previous host files');
  t.equal(read('etc/hf-int/only-v1.conf'), 'only in v1\n');
  t.notOk(exists('etc/hf-int/new-in-v2.conf'));
  t.equal(read('etc/hf-int/app.conf'), 'greeting=edited by the admin\n', 'still the admin\'s');
  t.match(read('etc/hf-int/app.conf.sysctr-new'), 'greeting=hello from v1\n');

  const { ctx: c4, lines: l4 } = ctx();
  await uninstall(c4, 'hf-int');
  t.notOk(exists('etc/hf-int/static.conf'), 'unchanged files removed');
  t.notOk(exists('etc/hf-int/current.conf'));
  t.notOk(exists('etc/hf-int/app.conf.sysctr-new'), "sysctr's own FILE.sysctr-new removed");
  t.equal(read('etc/hf-int/app.conf'), 'greeting=edited by the admin\n', 'the edited file is kept');
  t.ok(l4.some((l) => l.includes(`keeping ${h('etc/hf-int/app.conf')}`)), 'and uninstall says so');
  t.notOk(exists('usr'), 'created directories removed when empty');
  t.notOk(exists('var'));
  t.ok(exists('etc'), 'a directory sysctr did not create stays');
  fs.rmSync(h('etc/hf-int'), { recursive: true });
});

t.test('a foreign file is refused, nothing changed; --force takes it over', async (t) => {
  fs.mkdirSync(h('etc/hf-f'), { recursive: true });
  fs.writeFileSync(h('etc/hf-f/static.conf'), 'mine\n');
  const { ctx: c1 } = ctx();
  await t.rejects(install(c1, { image: 'localhost/layout:v1', name: 'hf-f' }), { message: new RegExp(`${h('etc/hf-f/static.conf')} already exists and was not installed by sysctr`) });
  t.notOk(fs.existsSync(path.join(root, 'hf-f.0')), 'no deployment');
  t.same(fs.readdirSync(h('etc/hf-f')), ['static.conf'], 'no host file written');
  t.notOk(exists('usr'));
  t.equal(read('etc/hf-f/static.conf'), 'mine\n');
  const dryLines: string[] = [];
  await install({ paths, runner: new DryRunner(() => {}), dryRun: true, out: (l: string) => dryLines.push(l), env: {} }, { image: 'localhost/layout:v1', name: 'hf-f', force: true });
  t.ok(dryLines.includes(`would take over ${h('etc/hf-f/static.conf')} (--force)`), 'install --dry-run --force says what it would take over');
  t.equal(read('etc/hf-f/static.conf'), 'mine\n', 'and does not');
  const { ctx: c2, lines } = ctx();
  await install(c2, { image: 'localhost/layout:v1', name: 'hf-f', force: true });
  t.equal(read('etc/hf-f/static.conf'), 'static v1\n', 'taken over');
  t.ok(lines.some((l) => l.includes(`taking over ${h('etc/hf-f/static.conf')}`)));
  const { ctx: c3 } = ctx();
  await uninstall(c3, 'hf-f');
  t.notOk(exists('etc/hf-f/static.conf'), 'then it is removed by uninstall like the others');
  t.ok(exists('etc/hf-f'), 'the directory existed before: kept');
  fs.rmSync(h('etc/hf-f'), { recursive: true });
});

t.test('rendering errors come before anything is written', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['undef', /^hostfs\/etc\/hf-app\/app\.conf:2:3: variable NO_SUCH_VAR has no value/],
    ['dotdot', /host path "\/etc\/\.\.\/hf-e\/[^"]*" cannot be used: it contains "\.\."/],
    ['intoroot', /inside sysctr's state root/],
    ['renamevar', /^manifest\.json:\d+:\d+: variable WHERE has no value/],
  ];
  for (const [ref, re] of cases) {
    const { ctx: c } = ctx();
    // the host root is the test dir, so that /root/NAME is in the state root
    if (ref === 'intoroot') c.paths = { ...paths, hostRoot: dir };
    await t.rejects(install(c, { image: `localhost/layout:${ref}`, name: 'hf-e' }), { message: re }, ref);
    t.notOk(fs.existsSync(path.join(root, 'hf-e.0')), `${ref}: no deployment`);
    t.notOk(fs.existsSync(path.join(root, '.hf-e.journal')), `${ref}: no journal`);
    t.same(fs.readdirSync(host).sort(), ['etc'], `${ref}: nothing on the host`);
  }
  const undef = await sysctr(['install', '--root', root, '--host-root', host, '--unit-dir', paths.unitDir, '--tmpfiles-dir', paths.tmpfilesDir, '--name', 'hf-e', 'localhost/layout:undef']);
  t.equal(undef.exitCode, 1);
  t.match(undef.stderr, 'hostfs/etc/hf-app/app.conf:2:3: variable NO_SUCH_VAR has no value; set it with --set NO_SUCH_VAR=...');
});

t.test('install --dry-run shows the host files and writes nothing', async (t) => {
  const r = await sysctr(['install', '--dry-run', '--root', root, '--host-root', host, '--unit-dir', paths.unitDir, '--tmpfiles-dir', paths.tmpfilesDir, '--name', 'hf-d', 'localhost/layout:v1']);
  t.equal(r.exitCode, 0, r.stderr);
  t.match(r.stdout, `host file ${h('etc/hf-d/app.conf')} (mode 0644, from hostfs/etc/hf-app/app.conf, rendered):\nwould write ${h('etc/hf-d/app.conf')}:\n# rendered at install (installedFilesTemplate)\ngreeting=hello from v1\n`);
  t.match(r.stdout, `would link ${h('etc/hf-d/current.conf')} -> app.conf`);
  t.match(r.stdout, `would create directory ${h('var/lib/hf-data')}`);
  t.notOk(exists('etc/hf-d'), 'nothing written');
});

t.test('noContainerService: host files and tmpfiles, no unit; list and uninstall work', async (t) => {
  const { ctx: c1 } = ctx();
  await install(c1, { image: 'localhost/layout:noservice', name: 'hf-ns', now: true });
  t.equal(read('etc/hf-ns/app.conf').split('\n')[1], 'greeting=no service');
  t.notOk(fs.existsSync(path.join(paths.unitDir, 'hf-ns.service')), 'no unit');
  t.ok(fs.existsSync(path.join(paths.tmpfilesDir, 'hf-ns.conf')), 'tmpfiles conf');
  const cmds = c1.runner.calls.map((c) => c.join(' '));
  t.notOk(cmds.some((c) => /systemctl (enable|start|daemon-reload)/.test(c)), `no unit enabled or started: ${cmds.join('; ')}`);
  t.ok(cmds.some((c) => c.includes('systemd-tmpfiles --create')), 'tmpfiles created');
  const list = await sysctr(['containers', 'list', '--all', '--json', '--root', root, '--host-root', host]);
  t.equal(list.exitCode, 0, list.stderr);
  t.match(JSON.parse(list.stdout), [{ name: 'hf-ns', state: 'no service' }]);
  // an update (new --set value) and a rollback of a container with no service: host files only
  const { ctx: cu } = ctx();
  const u = await update(cu, { name: 'hf-ns', set: ['GREETING=second'] });
  t.equal(u.status, 'updated');
  t.equal(read('etc/hf-ns/app.conf').split('\n')[1], 'greeting=second', 'update re-rendered the template');
  t.notOk(fs.existsSync(path.join(paths.unitDir, 'hf-ns.service')), 'still no unit');
  const { ctx: cr } = ctx();
  await rollback(cr, 'hf-ns');
  t.equal(read('etc/hf-ns/app.conf').split('\n')[1], 'greeting=no service', 'rollback restored it');
  t.notOk(cr.runner.calls.some((c) => /systemctl (enable|reenable|start|stop)/.test(c.join(' '))), 'no unit started or stopped');
  const { ctx: c2 } = ctx();
  await uninstall(c2, 'hf-ns');
  t.notOk(exists('etc/hf-ns'), 'host files and their directory removed');
  t.notOk(fs.existsSync(path.join(root, 'hf-ns')), 'uninstalled');
  t.notOk(fs.existsSync(path.join(paths.tmpfilesDir, 'hf-ns.conf')));
});

t.test('images info lists the host files, renamed (not rendered), templates marked', async (t) => {
  const r = await sysctr(['images', 'info', '--root', root, 'localhost/layout:v1']);
  t.equal(r.exitCode, 0, r.stderr);
  t.match(r.stdout, '  $CONF_DIRECTORY/$NAME/app.conf  <- hostfs/etc/hf-app/app.conf  (0644, template)\n');
  t.match(r.stdout, '  ${BIN_DIRECTORY}/${NAME}-tool  <- hostfs/usr/local/bin/hf-tool  (0755)\n');
  t.match(r.stdout, '  /var/lib/hf-data  (directory)');
  t.match(r.stdout, /GREETING\s+default "hello from v1"/, 'a variable only a host template uses is listed');
  const ns = await sysctr(['images', 'info', '--root', root, 'localhost/layout:noservice']);
  t.match(ns.stdout, 'Service:     none (noContainerService: host files only)');
});

t.test('render shows the rendered host files, for a source dir and a stored image', async (t) => {
  const { renderSource } = await import('../../lib/deploy/render.js');
  const fromDir = await renderSource(path.join(projectDir, 'fixtures/images/hostfs-v1'), { name: 'hf-r', set: { GREETING: 'hi' }, paths });
  const files = new Map(fromDir.files);
  t.equal(files.get('host/etc/hf-r/app.conf'), '# rendered at install (installedFilesTemplate)\ngreeting=hi\nport=8091\nname=hf-r\nprice=$5\n');
  t.same(fromDir.hostFiles.filter((f) => !f.template).map((f) => f.path), ['/etc/hf-r/current.conf', '/etc/hf-r/only-v1.conf', '/etc/hf-r/static.conf', '/usr/local/bin/hf-r-tool']);
  const fromImage = await renderSource('localhost/layout:v1', { name: 'hf-r', set: {}, paths });
  t.match(new Map(fromImage.files).get('host/etc/hf-r/app.conf'), 'greeting=hello from v1\n');
  await t.rejects(renderSource('localhost/layout:undef', { name: 'hf-r', set: {}, paths }), { message: /^hostfs\/etc\/hf-app\/app\.conf:2:3: variable NO_SUCH_VAR has no value/ });
});

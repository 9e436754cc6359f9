/** `sysctr render`: the bytes install would write (the same renderDeployment), printed or written. */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { installedFiles, renderDeployment } from '../../lib/deploy/render.js';
import { readSourceDir } from '../../lib/rootfs/exports.js';
import { projectDir, sysctr } from '../helpers/cli.js';

const clean = path.join(projectDir, 'fixtures/lint/clean');
const uid = process.getuid?.() ?? 0;
const gid = process.getgid?.() ?? 0;

t.test('render --out writes exactly what renderDeployment returns', async (t) => {
  const root = t.testdir({});
  const out = path.join(root, 'out');
  const r = await sysctr(['render', '--root', root, '--name', 'web', '--runtime', '/usr/sbin/runc', '--set', 'UUID=fixed', '--set', 'PORT=9090', '--out', out, clean]);
  t.equal(r.exitCode, 0, r.stderr);
  const expected = renderDeployment({
    name: 'web', destdir: path.join(root, 'web.0'), exports: readSourceDir(clean), set: { UUID: 'fixed', PORT: '9090' },
    runtime: '/usr/sbin/runc', user: false, hostUid: uid, hostGid: gid,
  });
  const files = installedFiles('web', expected);
  t.same(files.map(([f]) => f), ['config.json', 'web.service', 'web.service.d/sysctr.conf', 'web.conf']);
  for (const [f, content] of files) t.equal(fs.readFileSync(path.join(out, f), 'utf8'), content, f);
  t.equal(files[0][1], expected.configJson);
  t.equal(files[1][1], `# Managed by sysctr for container web; do not edit. Removed by: sysctr uninstall web\n${expected.unit}`, 'the unit as install writes it');
  t.equal(files[3][1], expected.tmpfiles);
  t.match(expected.configJson, '"PORT=9090"');
});

t.test('render prints each file under a header', async (t) => {
  const root = t.testdir({});
  const r = await sysctr(['render', '--root', root, '--runtime', '/usr/sbin/runc', '--set', 'UUID=u', clean]);
  t.equal(r.exitCode, 0, r.stderr);
  const expected = renderDeployment({
    name: 'clean', destdir: path.join(root, 'clean.0'), exports: readSourceDir(clean), set: { UUID: 'u' },
    runtime: '/usr/sbin/runc', user: false, hostUid: uid, hostGid: gid,
  });
  // execa strips the final newline
  const printed = installedFiles('clean', expected).map(([f, content]) => `==> ${f} <==\n${content}`).join('\n');
  t.equal(r.stdout + '\n', printed);
  t.match(r.stdout, /^==> config\.json <==\n\{/);
  t.match(r.stdout, /\n==> clean\.service <==\n# Managed by sysctr/);
  t.match(r.stdout, /\n==> clean\.service\.d\/sysctr\.conf <==\n/);
  t.match(r.stdout, /\n==> clean\.conf <==\nd \/var\/lib\/clean 0700 /);
});

t.test('render of a directory without exports files: the default config and unit', async (t) => {
  const dir = t.testdir({ 'Dockerfile': 'FROM scratch\n' });
  const r = await sysctr(['render', '--root', dir, '--runtime', '/usr/sbin/runc', dir]);
  t.equal(r.exitCode, 0, r.stderr);
  t.match(r.stdout, '"path": "rootfs"');
  t.match(r.stdout, /==> \S+\.service <==\n# Managed by sysctr[^\n]*\n\[Unit\]\nDescription=sysctr container /);
  t.notMatch(r.stdout, /\n==> [^/\n]+\.conf <==/, 'no tmpfiles conf (only the drop-in)');
});

t.test('render errors: exit 1 with file:line:col, exit 2 for usage', async (t) => {
  const broken = path.join(projectDir, 'fixtures/lint/template-undefined-variable');
  const r = await sysctr(['render', broken]);
  t.equal(r.exitCode, 1);
  t.equal(r.stderr, 'sysctr: config.json.template:10:19: variable LOG_LEVEL has no value; set it with --set LOG_LEVEL=...');
  t.equal(r.stdout, '', 'nothing printed');
  const out = path.join(os.tmpdir(), `sysctr-render-none-${process.pid}`);
  const r2 = await sysctr(['render', '--out', out, broken]);
  t.equal(r2.exitCode, 1);
  t.notOk(fs.existsSync(out), 'nothing written');
  t.equal((await sysctr(['render', '--set', 'PORT', clean])).exitCode, 2);
  t.equal((await sysctr(['render', '--set', 'DESTDIR=/x', clean])).exitCode, 2);
  const ro = await sysctr(['render', path.join(projectDir, 'fixtures/lint/config-root-readonly')]);
  t.equal(ro.exitCode, 1);
  t.match(ro.stderr, /^sysctr: config\.json\.template:22:17: config\.json: root\.readonly must be true/);
});

/** `sysctr render`: the bytes install would write (the same renderDeployment), printed or written. */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readSourceDir, renderDeployment } from '../lib/deploy/render.js';
import { projectDir, sysctr } from './helpers/cli.js';

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
  t.same(fs.readdirSync(out).sort(), ['config.json', 'web.conf', 'web.service']);
  t.equal(fs.readFileSync(path.join(out, 'config.json'), 'utf8'), expected.configJson);
  t.equal(fs.readFileSync(path.join(out, 'web.service'), 'utf8'), expected.unit);
  t.equal(fs.readFileSync(path.join(out, 'web.conf'), 'utf8'), expected.tmpfiles);
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
  t.equal(r.stdout + '\n', `==> config.json <==\n${expected.configJson}\n==> clean.service <==\n${expected.unit}\n==> clean.conf <==\n${expected.tmpfiles}`);
});

t.test('render of a directory without exports files: the default config and unit', async (t) => {
  const dir = t.testdir({ 'Dockerfile': 'FROM scratch\n' });
  const r = await sysctr(['render', '--root', dir, '--runtime', '/usr/sbin/runc', dir]);
  t.equal(r.exitCode, 0, r.stderr);
  t.match(r.stdout, '"path": "rootfs"');
  t.match(r.stdout, /==> \S+\.service <==\n\[Unit\]\nDescription=sysctr container /);
  t.notMatch(r.stdout, /\.conf <==/, 'no tmpfiles conf');
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

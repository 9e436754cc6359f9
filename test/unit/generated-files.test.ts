/**
 * The files sysctr generates itself (the default unit, the drop-in, the default config.json), for
 * several inputs, compared byte for byte with fixtures/generated/. Those files were captured from
 * the string-building code before it became the templates in templates/, so this test is what
 * shows the templates write the same bytes. After a deliberate change to a template, rewrite them
 * with: SYSCTR_UPDATE_GENERATED=1 npx tap test/unit/generated-files.test.ts (and read the diff).
 */
import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { installedFiles, renderDeployment, type RenderInput } from '../../lib/deploy/render.js';
import { defaultConfigText } from '../../lib/deploy/default-config.js';
import { defaultUnit } from '../../lib/deploy/default-unit.js';
import { renderDropIn } from '../../lib/systemd/dropin.js';
import { readSourceDir } from '../../lib/rootfs/exports.js';
import type { ImageConfig } from '../../lib/image/types.js';
import { projectDir } from '../helpers/cli.js';

const dir = path.join(projectDir, 'fixtures/generated');
const update = process.env.SYSCTR_UPDATE_GENERATED === '1';

function same(t: Test, file: string, actual: string): void {
  const p = path.join(dir, file);
  if (update) fs.writeFileSync(p, actual);
  t.equal(actual, fs.readFileSync(p, 'utf8'), file);
}

const image = (config: NonNullable<ImageConfig['config']>): ImageConfig => ({ rootfs: { type: 'layers', diff_ids: [] }, config });
const caps = { names: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_CHOWN'], kernel: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_CHOWN'], manager: 'test' };

function render(name: string, exportsDir: string | undefined, over: Partial<RenderInput> = {}): Array<[string, string]> {
  const rendered = renderDeployment({
    name, destdir: `/var/lib/containers/sysctr/${name}.0`, exports: exportsDir ? readSourceDir(exportsDir) : {},
    set: { UUID: '00000000-0000-4000-8000-000000000000' }, runtime: '/usr/sbin/runc', user: false, hostUid: 0, hostGid: 0,
    env: { HOME: '/home/u', XDG_RUNTIME_DIR: '/run/user/1000' }, capabilities: caps, image: { name: 'example:1', id: 'sha256:1234' }, ...over,
  });
  return installedFiles(name, rendered);
}

t.test('the example image: its own unit and config, sysctr drop-in', async (t) => {
  for (const [f, content] of render('example', path.join(projectDir, 'fixtures/images/example'))) same(t, `example--${f.replace(/\//g, '--')}`, content);
});

t.test('an image with no /exports: default config.json, default unit, drop-in', async (t) => {
  for (const [f, content] of render('plain', undefined)) same(t, `plain--${f.replace(/\//g, '--')}`, content);
});

t.test('user mode: default unit wanted by default.target, no network.target', async (t) => {
  for (const [f, content] of render('mine', undefined, { user: true, destdir: '/home/u/.local/share/sysctr/mine.0' })) same(t, `user--${f.replace(/\//g, '--')}`, content);
});

t.test('an image config with Entrypoint, Cmd, Env, WorkingDir, User', async (t) => {
  const withConfig = image({
    Entrypoint: ['/bin/httpd'], Cmd: ['-f', '-p', '8080', 'a "quoted" arg', 'back\\slash', 'tab\there', 'é ✓', 'bell\u0007'],
    Env: ['A=1', 'PATH=/opt/bin:/bin', 'QUOTE="x"'], WorkingDir: '/srv/www', User: '1000:50',
  });
  for (const [f, content] of render('httpd', undefined, { image: { name: 'httpd:1', id: 'sha256:5678', config: withConfig } })) same(t, `config--${f.replace(/\//g, '--')}`, content);
  same(t, 'config-user-uid.json', defaultConfigText({ name: 'u', image: image({ User: '33', Env: ['TERM=dumb'], Cmd: ['/x'] }) }));
  same(t, 'config-user-name.json', defaultConfigText({ name: 'n', image: image({ User: 'www-data', Entrypoint: [], Cmd: null, WorkingDir: '' }) }));
});

t.test('the detached form: Type=forking and PIDFile in the drop-in', async (t) => {
  const unit = '[Service]\nExecStart=/usr/sbin/runc run -d --pid-file /run/container-d.pid d\nExecStopPost=/usr/sbin/runc delete -f d\n';
  same(t, 'dropin-detached.conf', renderDropIn({ name: 'd', runtime: '/usr/sbin/runc', unit, detached: true, pidfile: '/run/container-d.pid', stopTimeout: 5, stopMinUptime: 0 }));
  const stopped = renderDropIn({ name: 'd', runtime: '/usr/sbin/runc', unit: '', detached: false, pidfile: '/run/p', stopTimeout: 7, stopMinUptime: 2 });
  same(t, 'dropin-attached.conf', stopped);
});

t.test('the default unit: every EXEC line present, and only ExecStart', async (t) => {
  const all = { NAME: 'a', DESTDIR: '/var/lib/containers/sysctr/a.1', EXEC_STARTPRE: '/bin/pre', EXEC_START: '/usr/sbin/runc run a', EXEC_STOP: '/bin/stop a', EXEC_STOPPOST: '/usr/sbin/runc delete -f a' };
  same(t, 'unit-all-exec.service', defaultUnit(all));
  same(t, 'unit-start-only.service', defaultUnit({ NAME: 'b', DESTDIR: '/d', EXEC_START: '/usr/sbin/runc run b', EXEC_STARTPRE: '' }, { user: true }));
});

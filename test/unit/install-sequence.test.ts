/**
 * Pure sequencing of uninstall (RecordingRunner: no systemd needed), on real files in a temp
 * state root and unit dir: the order of docs/design.md's steps, idempotence, a foreign unit left alone, user mode. The real-systemd versions are in e2e-install.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RecordingRunner } from '../../lib/proc.js';
import { resolvePaths } from '../../lib/paths.js';
import { uninstall } from '../../lib/deploy/uninstall.js';
import { withHeader } from '../../lib/systemd/files.js';

function fixture(opts: { ours?: boolean; user?: boolean } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-seq-'));
  const paths = resolvePaths({ root: path.join(dir, 'root'), unitDir: path.join(dir, 'units'), tmpfilesDir: path.join(dir, 'tmpfiles'), user: opts.user });
  fs.mkdirSync(path.join(paths.root, 'web.0/rootfs'), { recursive: true });
  fs.writeFileSync(path.join(paths.root, 'web.0/info'), JSON.stringify({ name: 'web', runtime: '/usr/sbin/runc' }));
  fs.symlinkSync('web.0', path.join(paths.root, 'web'));
  fs.mkdirSync(path.join(paths.unitDir, 'web.service.d'), { recursive: true });
  fs.writeFileSync(path.join(paths.unitDir, 'web.service'), opts.ours === false ? '[Service]\nExecStart=/bin/true\n' : withHeader('web', '[Service]\nExecStart=x\n'));
  // as sysctr writes them: the drop-in with its header, the conf as the deployment's copy has it
  fs.writeFileSync(path.join(paths.unitDir, 'web.service.d/sysctr.conf'), '# Managed by sysctr for container web\n[Service]\n');
  fs.mkdirSync(paths.tmpfilesDir, { recursive: true });
  fs.writeFileSync(path.join(paths.tmpfilesDir, 'web.conf'), 'd /run/web 0755 - - -\n');
  fs.writeFileSync(path.join(paths.root, 'web.0/web.conf'), 'd /run/web 0755 - - -\n');
  return { dir, paths };
}

t.test('uninstall: steps in order, everything removed, and again is a no-op', async (t) => {
  const { dir, paths } = fixture();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const runner = new RecordingRunner();
  const lines: string[] = [];
  const ctx = { paths, runner, dryRun: false, out: (l: string) => lines.push(l), env: {} };
  await uninstall(ctx, 'web');
  const calls = runner.calls.map((c) => c.join(' ').replace(/^\/usr\/s?bin\//, ''));
  // the runc step runs only when the runtime is installed
  const runcLine = fs.existsSync('/usr/sbin/runc') ? ['runc delete -f web'] : [];
  t.same(calls.map((c) => c.replace(/\/\S*\/tmpfiles\//, 'TMPFILES/')), [
    'systemctl disable --now web.service',
    'systemctl reset-failed web.service',
    ...runcLine,
    'systemctl daemon-reload',
    'systemd-tmpfiles --remove TMPFILES/web.conf',
  ]);
  for (const p of ['web', 'web.0', '.web.journal']) t.notOk(fs.existsSync(path.join(paths.root, p)), `${p} removed`);
  t.notOk(fs.existsSync(path.join(paths.unitDir, 'web.service')));
  t.notOk(fs.existsSync(path.join(paths.unitDir, 'web.service.d')));
  t.notOk(fs.existsSync(path.join(paths.tmpfilesDir, 'web.conf')));
  const again = new RecordingRunner();
  const r = await uninstall({ ...ctx, runner: again }, 'web');
  t.equal(r.removed, false);
  t.same(again.calls, [], 'nothing run the second time');
});

t.test('uninstall never removes a unit sysctr did not write', async (t) => {
  const { dir, paths } = fixture({ ours: false });
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const runner = new RecordingRunner();
  await uninstall({ paths, runner, dryRun: false, out: () => {}, env: {} }, 'web');
  t.ok(fs.existsSync(path.join(paths.unitDir, 'web.service')), 'foreign unit kept');
  t.notOk(runner.calls.some((c) => c.includes('disable')), 'not disabled either');
  t.notOk(fs.existsSync(path.join(paths.root, 'web.0')), 'sysctr\'s own deployment removed');
});

t.test('user mode: systemctl --user and systemd-tmpfiles --user', async (t) => {
  const { dir, paths } = fixture({ user: true });
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const runner = new RecordingRunner();
  await uninstall({ paths, runner, dryRun: false, out: () => {}, env: {} }, 'web');
  t.ok(runner.calls.some((c) => c.join(' ') === 'systemctl --user disable --now web.service'));
  t.ok(runner.calls.some((c) => c[0] === 'systemd-tmpfiles' && c[1] === '--user' && c[2] === '--remove'));
});

/**
 * Pure sequencing of rollback and of the recovery of an interrupted update (RecordingRunner: no
 * systemd), on real files in a temp state root and unit dir: the order of docs/update.md, the kept unit
 * files restored as rendered, a stopped service left stopped, and an update that never got its
 * new deployment complete undone without touching the live one. The real-systemd versions are in
 * e2e-update and e2e-crash.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DryRunner, RecordingRunner } from '../../lib/proc.js';
import { resolvePaths } from '../../lib/paths.js';
import { rollback } from '../../lib/deploy/rollback.js';
import { finishInterrupted } from '../../lib/deploy/recover.js';
import { writeJournal, containerPaths } from '../../lib/deploy/state.js';
import { withHeader } from '../../lib/systemd/files.js';

function fixture() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-upd-'));
  const paths = resolvePaths({ root: path.join(dir, 'root'), unitDir: path.join(dir, 'units'), tmpfilesDir: path.join(dir, 'tmpfiles') });
  for (const n of [0, 1]) {
    const d = path.join(paths.root, `web.${n}`);
    fs.mkdirSync(path.join(d, 'rootfs'), { recursive: true });
    fs.writeFileSync(path.join(d, 'info'), JSON.stringify({ name: 'web', image: `img:${n}`, imageId: `sha256:${n}`, values: {}, set: {}, runtime: '/usr/sbin/runc', token: `tok${n}` }));
    fs.writeFileSync(path.join(d, 'web.service'), withHeader('web', `[Service]\nWorkingDirectory=${d}\n`));
    fs.writeFileSync(path.join(d, 'sysctr.conf'), `[Service]\n# ${n}\n`);
    if (n === 0) fs.writeFileSync(path.join(d, 'web.conf'), 'd /run/web 0755 - - -\n');
  }
  fs.symlinkSync('web.1', path.join(paths.root, 'web'));
  fs.mkdirSync(paths.unitDir, { recursive: true });
  fs.copyFileSync(path.join(paths.root, 'web.1/web.service'), path.join(paths.unitDir, 'web.service'));
  return { dir, paths };
}

/** Answers `systemctl show` with the unit's state, which stop and start change. */
function runnerWith(active: boolean): RecordingRunner {
  let up = active;
  return new RecordingRunner((file, args) => {
    if (file !== 'systemctl') return {};
    if (args[0] === 'stop') up = false;
    if (args[0] === 'start') up = true;
    if (args[0] !== 'show') return {};
    return { stdout: `ActiveState=${up ? 'active' : 'inactive'}\nSubState=${up ? 'running' : 'dead'}\nNRestarts=0\nMainPID=${up ? 42 : 0}` };
  });
}
const calls = (r: RecordingRunner) => r.calls.map((c) => c.join(' ').replace(/\/\S*\/tmpfiles\//, 'TMPFILES/')).filter((c) => !c.startsWith('systemctl show'));

t.test('rollback of a running service: stop, restore the kept unit files, switch, reload, tmpfiles, start', async (t) => {
  const { dir, paths } = fixture();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const runner = runnerWith(true);
  const r = await rollback({ paths, runner, dryRun: false, out: () => {}, env: {} }, 'web');
  t.match(r, { from: 'web.1', to: 'web.0', image: 'img:0', restarted: true });
  t.same(calls(runner), [
    'systemctl stop web.service',
    'systemctl daemon-reload',
    'systemd-tmpfiles --create TMPFILES/web.conf',
    'systemctl reset-failed web.service',
    'systemctl start web.service',
  ]);
  t.equal(fs.readlinkSync(path.join(paths.root, 'web')), 'web.0');
  t.equal(fs.readFileSync(path.join(paths.unitDir, 'web.service'), 'utf8'), fs.readFileSync(path.join(paths.root, 'web.0/web.service'), 'utf8'), 'unit as rendered for web.0');
  t.equal(fs.readFileSync(path.join(paths.unitDir, 'web.service.d/sysctr.conf'), 'utf8'), '[Service]\n# 0\n');
  t.ok(fs.existsSync(path.join(paths.tmpfilesDir, 'web.conf')));
  t.notOk(fs.existsSync(path.join(paths.root, '.web.journal')), 'journal removed');
  // and back: web.1 has no tmpfiles conf, so the one for web.0 goes
  const again = runnerWith(true);
  await rollback({ paths, runner: again, dryRun: false, out: () => {}, env: {} }, 'web');
  t.equal(fs.readlinkSync(path.join(paths.root, 'web')), 'web.1');
  t.notOk(fs.existsSync(path.join(paths.tmpfilesDir, 'web.conf')), 'tmpfiles conf of web.0 removed');
  t.notOk(calls(again).some((c) => c.includes('tmpfiles')), 'no tmpfiles --create without a conf');
});

t.test('rollback --dry-run prints the commands a rollback runs and the unit as a diff, and changes nothing', async (t) => {
  // every file, link and directory, with contents (the containers lock, which an installed
  // container's root always has, is empty and left out: the fixture starts without one)
  const snapshot = (paths: ReturnType<typeof fixture>['paths']) =>
    [paths.root, paths.unitDir].flatMap((d) => fs.readdirSync(d, { recursive: true, withFileTypes: true }).filter((e) => e.name !== '.containers.lock')
      .map((e) => { const p = path.join(e.parentPath, e.name); return `${p} ${e.isSymbolicLink() ? fs.readlinkSync(p) : e.isFile() ? fs.readFileSync(p, 'utf8') : ''}`; })).sort();
  const real = fixture();
  t.teardown(() => fs.rmSync(real.dir, { recursive: true, force: true }));
  const realRunner = runnerWith(true);
  await rollback({ paths: real.paths, runner: realRunner, dryRun: false, out: () => {}, env: {} }, 'web');

  const { dir, paths } = fixture();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const before = snapshot(paths);
  const lines: string[] = [];
  const queries = runnerWith(true);
  const r = await rollback({ paths, runner: new DryRunner((l) => lines.push(l), queries), dryRun: true, out: (l) => lines.push(l), env: {} }, 'web');
  t.match(r, { from: 'web.1', to: 'web.0', dryRun: true });
  const printed = lines.filter((l) => l.startsWith('would run: ')).map((l) => l.slice(11).replace(/\/\S*\/tmpfiles\//, 'TMPFILES/'));
  t.same(printed, calls(realRunner), 'the same commands as the real rollback, in its order');
  t.ok(queries.calls.length > 0 && queries.calls.every((c) => c.slice(0, 2).join(' ') === 'systemctl show'), 'only state queries ran');
  const text = lines.join('\n');
  t.match(text, /^would roll back web: web\.1 \(img:1, 1\) -> web\.0 \(img:0, 0\)$/m);
  t.match(text, new RegExp(`would change ${paths.unitDir}/web.service:\n--- ${paths.unitDir}/web.service`));
  t.match(text, /^-WorkingDirectory=\S*web\.1$/m, 'the unit as a diff');
  t.match(text, /^\+WorkingDirectory=\S*web\.0$/m);
  t.match(text, /^would write \S*tmpfiles\/web\.conf:\nd \/run\/web 0755 - - -$/m, 'a new file in full');
  t.match(text, new RegExp(`^would link ${paths.root}/web -> web\\.0$`, 'm'));
  t.same(snapshot(paths), before, 'nothing written, moved or removed');
});

t.test('rollback --dry-run of a stopped service plans no stop and no start, as the real one', async (t) => {
  const { dir, paths } = fixture();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  await rollback({ paths, runner: new DryRunner((l) => lines.push(l), runnerWith(false)), dryRun: true, out: (l) => lines.push(l), env: {} }, 'web');
  const printed = lines.filter((l) => l.startsWith('would run: ')).map((l) => l.slice(11).replace(/\/\S*\/tmpfiles\//, 'TMPFILES/'));
  t.same(printed, ['systemctl daemon-reload', 'systemd-tmpfiles --create TMPFILES/web.conf']);
  t.equal(fs.readlinkSync(path.join(paths.root, 'web')), 'web.1', 'still web.1');
});

t.test('rollback of a stopped service leaves it stopped', async (t) => {
  const { dir, paths } = fixture();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const runner = runnerWith(false);
  const r = await rollback({ paths, runner, dryRun: false, out: () => {}, env: {} }, 'web');
  t.equal(r.restarted, false);
  t.same(calls(runner), ['systemctl daemon-reload', 'systemd-tmpfiles --create TMPFILES/web.conf']);
});

t.test('an update killed before its new deployment was complete is undone; the slot\'s older deployment is kept', async (t) => {
  const { dir, paths } = fixture();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const c = containerPaths(paths, 'web');
  // live web.1; the update was going into web.0 (which still holds the older deployment, token tok0)
  writeJournal(c, { op: 'update', from: 1, to: 0, wasActive: true, token: 'new-token', settleMs: 0 });
  fs.mkdirSync(path.join(paths.root, '.web.0.partial-12345/rootfs'), { recursive: true });
  const runner = runnerWith(true);
  const lines: string[] = [];
  const r = await finishInterrupted({ paths, runner, dryRun: false, out: (l) => lines.push(l), env: {} }, 'web');
  t.equal(r?.outcome, 'undone');
  t.match(lines.join('\n'), /undid an interrupted update/);
  t.same(runner.calls, [], 'the live deployment was never touched: nothing to run');
  t.notOk(fs.existsSync(path.join(paths.root, '.web.0.partial-12345')), 'half checkout removed');
  t.ok(fs.existsSync(path.join(paths.root, 'web.0/info')), 'the older deployment in that slot is kept');
  t.equal(fs.readlinkSync(path.join(paths.root, 'web')), 'web.1');
  t.notOk(fs.existsSync(c.journal));
});

t.test('an update killed after its new deployment was complete is completed (switched, started, settled)', async (t) => {
  const { dir, paths } = fixture();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const c = containerPaths(paths, 'web');
  writeJournal(c, { op: 'update', from: 1, to: 0, wasActive: true, token: 'tok0', settleMs: 0 });
  const runner = runnerWith(false); // killed after stop: the service is down
  const r = await finishInterrupted({ paths, runner, dryRun: false, out: () => {}, env: {} }, 'web');
  t.equal(r?.outcome, 'completed');
  t.same(calls(runner), ['systemctl daemon-reload', 'systemd-tmpfiles --create TMPFILES/web.conf', 'systemctl start web.service']);
  t.equal(fs.readlinkSync(path.join(paths.root, 'web')), 'web.0');
  t.notOk(fs.existsSync(c.journal));
});

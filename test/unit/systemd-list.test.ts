/**
 * containers list asks systemd once for every unit (the speed target depends on it) and maps
 * ActiveState/SubState to running / inactive / failed. RecordingRunner answers `systemctl show`;
 * the real-systemd version is in e2e-install.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RecordingRunner } from '../../lib/proc.js';
import { resolvePaths } from '../../lib/paths.js';
import { listContainers } from '../../lib/deploy/list.js';

t.test('one systemctl show for all containers; states mapped; half installs not listed', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-list-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const paths = resolvePaths({ root: dir, unitDir: path.join(dir, 'u'), tmpfilesDir: path.join(dir, 't') });
  for (const [name, slot] of [['a', 0], ['b', 1], ['c', 0]] as const) {
    const d = path.join(dir, `${name}.${slot}`);
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, 'info'), JSON.stringify({ name, image: `localhost/${name}:1`, imageId: 'sha256:' + 'ab'.repeat(32), runtime: '/usr/sbin/runc', created: '2026-01-01T00:00:00Z' }));
    fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ process: { args: ['/usr/bin/run.sh', name] } }));
    fs.symlinkSync(`${name}.${slot}`, path.join(dir, name));
  }
  fs.mkdirSync(path.join(dir, 'half.0')); // a deployment with no link: not installed
  const show = [
    'Id=a.service\nLoadState=loaded\nActiveState=active\nSubState=running\nResult=success',
    'Id=b.service\nLoadState=loaded\nActiveState=failed\nSubState=failed\nResult=signal',
    'Id=c.service\nLoadState=loaded\nActiveState=inactive\nSubState=dead\nResult=success',
  ].join('\n\n');
  const runner = new RecordingRunner((file, args) => (file === 'systemctl' && args[0] === 'show' ? { stdout: show } : { exitCode: 1 }));
  const rows = await listContainers(paths, runner);
  t.equal(runner.calls.length, 1, 'one process for all units');
  t.same(runner.calls[0], ['systemctl', 'show', '-p', 'Id,LoadState,ActiveState,SubState,Result', '--', 'a.service', 'b.service', 'c.service']);
  t.same(rows.map((r) => [r.name, r.state, r.deployment, r.command]), [
    ['a', 'running', 'a.0', '/usr/bin/run.sh a'],
    ['b', 'failed', 'b.1', '/usr/bin/run.sh b'],
    ['c', 'inactive', 'c.0', '/usr/bin/run.sh c'],
  ]);
  t.equal(rows[1].unit?.result, 'signal');

  const noSystemd = new RecordingRunner(() => ({ exitCode: 1, stderr: 'System has not been booted with systemd' }));
  t.same((await listContainers(paths, noSystemd)).map((r) => r.state), ['unknown', 'unknown', 'unknown'], 'no systemd: unknown, not an error');
});

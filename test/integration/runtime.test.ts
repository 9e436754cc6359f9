/**
 * lib/runtime and the pure parts of lib/systemd: the EXEC_* forms, the runtime check, the drop-in,
 * `systemctl show` parsing - and, with real runc on the host (no systemd needed), the Runc wrapper
 * and the stop script against a container whose PID 1 ignores SIGTERM.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { execCommands, stopCommand, stopScriptForShell } from '../../lib/runtime/commands.js';
import { resolveRuntime } from '../../lib/runtime/check.js';
import { unmet } from '../helpers/prereq.js';
import { Runc } from '../../lib/runtime/runc.js';
import { renderDropIn, stopMinUptimeFrom, stopTimeoutFrom } from '../../lib/systemd/dropin.js';
import { containerState, parseShow } from '../../lib/systemd/systemctl.js';
import { SpawnRunner } from '../../lib/systemd/spawn-runner.js';

t.test('EXEC_* commands: attached and detached forms', async (t) => {
  const base = { name: 'web', runtime: '/usr/sbin/runc', destdir: '/var/lib/x/web.0', pidfile: '/run/container-web.pid' };
  const attached = execCommands({ ...base, detached: false });
  t.equal(attached.EXEC_START, '/usr/sbin/runc run web');
  t.equal(attached.EXEC_STOPPOST, '/usr/sbin/runc delete -f web');
  t.equal(attached.EXEC_STOP, stopCommand('/usr/sbin/runc', 'web'));
  const detached = execCommands({ ...base, detached: true });
  t.equal(detached.EXEC_START, '/usr/sbin/runc run -d --pid-file /run/container-web.pid web');
  t.equal(detached.EXEC_STOP, attached.EXEC_STOP, 'the stop script in both forms (Atomic left it empty in this one)');
  // unit syntax: every shell $ is doubled, and nothing else is expanded by systemd
  t.notMatch(attached.EXEC_STOP.replaceAll('$$', ''), /\$/, 'no single $ for systemd to expand');
  t.notMatch(attached.EXEC_STOP, /%|\\/, 'no % specifiers or backslash escapes');
});

t.test('runtime check: a path that does not exist is a clear error; a name is looked up', async (t) => {
  t.throws(() => resolveRuntime('/nonexistent/runc'), { message: 'runtime /nonexistent/runc does not exist' });
  const notExec = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-rt-')), 'runc');
  fs.writeFileSync(notExec, 'not a program', { mode: 0o644 });
  t.throws(() => resolveRuntime(notExec), { message: /is not an executable file/ });
  t.throws(() => resolveRuntime('no-such-runtime-xyz', '/usr/bin'), { message: /not found in PATH/ });
  t.throws(() => resolveRuntime('/usr/bin/run c'), { code: 2 });
  if (fs.existsSync('/usr/sbin/runc')) t.equal(resolveRuntime(undefined, '/usr/sbin:/usr/bin'), '/usr/sbin/runc');
});

t.test('drop-in: clean SIGKILL ends, cleanup, forking for the pid-file form, ExecStop only when missing', async (t) => {
  const runtime = '/usr/sbin/runc';
  const stop = stopCommand(runtime, 'web');
  const withStop = renderDropIn({ name: 'web', runtime, unit: `[Service]\nExecStart=x\nExecStop=${stop}\n`, detached: false, pidfile: '/run/p', stopTimeout: 3 });
  t.match(withStop, /^SuccessExitStatus=137 143 SIGKILL SIGTERM$/m);
  t.match(withStop, /^ExecStopPost=-\/usr\/sbin\/runc delete -f web$/m);
  t.match(withStop, /^Environment=SYSCTR_STOP_TIMEOUT=3 SYSCTR_STOP_MIN_UPTIME=3$/m);
  t.match(withStop, /^TimeoutStopSec=31$/m, 'longer than the creation wait (10), minimum uptime (3) and grace period (3) together');
  t.notMatch(withStop, /^ExecStop=/m, 'the unit already runs the stop script');
  t.notMatch(withStop, /Type=forking/);
  const noStop = renderDropIn({ name: 'web', runtime, unit: '[Service]\nExecStart=x\nExecStop=\n', detached: true, pidfile: '/run/p' });
  t.match(noStop, /^Type=forking\nPIDFile=\/run\/p$/m);
  t.ok(noStop.includes(`ExecStop=${stop}\n`));
  t.equal(stopTimeoutFrom({ SYSCTR_STOP_TIMEOUT: '4' }), 4);
  t.equal(stopTimeoutFrom({ SYSCTR_STOP_TIMEOUT: 'soon' }), 10);
  t.equal(stopMinUptimeFrom({ SYSCTR_STOP_MIN_UPTIME: '0' }), 0);
  t.equal(stopMinUptimeFrom({ SYSCTR_STOP_MIN_UPTIME: '-1' }), 3);
  t.match(renderDropIn({ name: 'web', runtime, unit: '', detached: false, pidfile: '/run/p', stopTimeout: 2, stopMinUptime: 0 }), /^TimeoutStopSec=27$/m);
});

t.test('systemctl show output for several units', async (t) => {
  const out = 'Id=a.service\nLoadState=loaded\nActiveState=active\nSubState=running\nResult=success\n\nId=b.service\nLoadState=loaded\nActiveState=failed\nSubState=failed\nResult=signal\n';
  const s = parseShow(out);
  t.equal(s.length, 2);
  t.equal(containerState(s[0]), 'running');
  t.equal(containerState(s[1]), 'failed');
  t.equal(containerState({ id: 'c', loadState: 'not-found', activeState: 'inactive', subState: 'dead', result: 'success' }), 'inactive');
  t.equal(containerState(undefined), 'unknown');
});

const canRunc = process.getuid?.() === 0 && fs.existsSync('/usr/sbin/runc') && fs.existsSync('/bin/busybox');
if (!canRunc) unmet(t, 'the real runc test needs root, /usr/sbin/runc and /bin/busybox (scripts/setup.sh installs runc and busybox-static)');
else t.test('real runc: the wrapper, and the stop script on a PID 1 that ignores SIGTERM', async (t) => {
  const bundle = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-runc-'));
  const id = `sysctr-t-${process.pid}`;
  const runc = new Runc(new SpawnRunner(), '/usr/sbin/runc');
  t.teardown(async () => {
    await runc.delete(id);
    fs.rmSync(bundle, { recursive: true, force: true });
  });
  const rootfs = path.join(bundle, 'rootfs');
  fs.mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
  for (const d of ['proc', 'dev', 'sys', 'tmp']) fs.mkdirSync(path.join(rootfs, d));
  fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
  fs.chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
  fs.symlinkSync('busybox', path.join(rootfs, 'bin/sleep'));
  await execa('runc', ['spec'], { cwd: bundle });
  const cfg = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
  cfg.process.terminal = false;
  cfg.process.args = ['/bin/sleep', '600'];
  cfg.root.readonly = true;
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(cfg));
  // stdio ignored: a detached container keeps inherited pipes open
  await execa('runc', ['run', '-d', '--pid-file', path.join(bundle, 'pid'), id], { cwd: bundle, stdio: 'ignore' });

  t.equal((await runc.state(id))?.status, 'running');
  t.ok((await runc.list()).some((c) => c.id === id));
  t.ok(await runc.kill(id, 'TERM'), 'TERM delivered...');
  await new Promise((res) => setTimeout(res, 500));
  t.equal((await runc.state(id))?.status, 'running', '...and ignored by sleep as PID 1');

  const script = stopScriptForShell();
  const start = Date.now();
  const r = await execa('sh', ['-c', script, 'sysctr-stop', '/usr/sbin/runc', id], { env: { SYSCTR_STOP_TIMEOUT: '1', SYSCTR_STOP_MIN_UPTIME: '4' }, reject: false });
  const ms = Date.now() - start;
  t.equal(r.exitCode, 0);
  t.match(r.stderr, /started less than 4s ago: SIGTERM once it has run 4s/, 'a container in its first seconds gets SIGTERM only after its minimum uptime');
  t.match(r.stderr, /ignored SIGTERM for 1s: sending SIGKILL/);
  t.ok(ms >= 4000 && ms < 9000, `stopped after the minimum uptime and the grace period (${ms} ms)`);
  t.equal((await runc.state(id))?.status, 'stopped');
  const again = await execa('sh', ['-c', script, 'sysctr-stop', '/usr/sbin/runc', id], { reject: false });
  t.equal(again.exitCode, 0, 'a container already stopped: exit 0 at once');
  await runc.delete(id);
  t.equal(await runc.state(id), undefined, 'delete -f leaves no state');
  await runc.delete(id); // and is idempotent
});

t.test('the drop-in adds ExecStop unless the unit really runs the stop script (parsed, not a substring)', async (t) => {
  const { unitRunsStop } = await import('../../lib/systemd/dropin.js');
  const stop = '/bin/sh -c STOP sysctr-stop runc web';
  t.ok(unitRunsStop(`[Service]\nExecStart=x\nExecStop=${stop}\n`, stop));
  t.ok(unitRunsStop(`[Service]\nExecStop=\\\n  ${stop}\n`, stop), 'a continued line');
  t.notOk(unitRunsStop(`[Service]\n# ExecStop=${stop}\nExecStart=x\n`, stop), 'commented out: none');
  t.notOk(unitRunsStop(`[Unit]\nDescription=${stop}\n[Service]\nExecStart=x\n`, stop), 'named elsewhere: none');
  t.notOk(unitRunsStop(`[Unit]\nExecStop=${stop}\n[Service]\nExecStart=x\n`, stop), 'outside [Service]: none');
});

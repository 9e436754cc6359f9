/**
 * A stop soon after a start, in a systemd booted with systemd-nspawn, with real runc. A PID 1 that
 * has no SIGTERM handler yet cannot die of the signal; a Go program there (etcd in its first seconds)
 * has its runtime exit with status 2 instead, and the unit ended `failed` - typically right after
 * `containers rollback`, which restarts the service and returns at once. The fixture's PID 1 does
 * what such a program does: for its first 2 s SIGTERM makes it exit 2, afterwards it exits 0 on it.
 * `systemctl stop` at once must still end `inactive` (Result=success), in both runc forms.
 */
import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { projectDir } from '../helpers/cli.js';
import { Machine, requireRealSystemd } from '../helpers/nspawn.js';
import { buildImageWithUmoci } from '../helpers/images.js';

const EARLY_EXIT_2 = `#!/bin/sh
# SIGTERM in the first 2 s: exit 2, as Go's runtime does as PID 1 before the program's handler is set
trap 'exit 2' TERM
i=0
while [ $i -lt 10 ]; do sleep 0.2; i=$((i+1)); done
trap 'exit 0' TERM
echo "$MESSAGE" > /srv/www/index.html
while :; do sleep 0.2; done
`;
const PIDFILE_UNIT = `[Service]
ExecStart=$EXEC_START
ExecStop=$EXEC_STOP
ExecStopPost=$EXEC_STOPPOST
PIDFile=$PIDFILE
WorkingDirectory=$DESTDIR

[Install]
WantedBy=multi-user.target
`;

if (requireRealSystemd(t)) {
  const m = await Machine.boot();
  t.teardown(() => m.shutdown());
  const layout = path.join(m.scratch, 'layout');
  for (const [tag, unit, message] of [
    ['attached-1', undefined, 'one'],
    ['attached-2', undefined, 'two'],
    ['pidfile', PIDFILE_UNIT, 'pidfile'],
  ] as const) {
    const src = path.join(m.scratch, `src-${tag}`);
    fs.cpSync(path.join(projectDir, 'fixtures/images/example'), src, { recursive: true });
    fs.writeFileSync(path.join(src, 'rootfs/usr/bin/run.sh'), EARLY_EXIT_2.replace('$MESSAGE', message));
    if (unit) fs.writeFileSync(path.join(src, 'exports/service.template'), unit);
    await buildImageWithUmoci(src, layout, tag);
  }
  const env = { SYSCTR_ROOT: '/var/lib/sysctr-stop-early' };
  const sysctr = (args: string[]) => m.sysctr(args, env);
  const show = async (unit: string) => {
    const r = await m.exec(['systemctl', 'show', '-p', 'ActiveState,Result,ExecMainStatus', unit]);
    return Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split('=')));
  };
  const stopNow = async (t: Test, unit: string) => {
    const started = Date.now();
    const r = await m.exec(['systemctl', 'stop', unit]);
    t.equal(r.exitCode, 0, r.stderr);
    t.same(await show(unit), { ActiveState: 'inactive', Result: 'success', ExecMainStatus: '0' }, `${unit} stopped cleanly, not failed (exit 2)`);
    const ms = Date.now() - started;
    t.ok(ms < 12_000, `within the minimum uptime and the grace period (${ms} ms)`);
    const journal = await m.exec(['journalctl', '-u', unit, '-n', '40', '--no-pager']);
    t.match(journal.stdout, /started less than 3s ago: SIGTERM once it has run 3s/, 'the journal says why the stop waited');
  };

  t.test('pull', async (t) => {
    for (const tag of ['attached-1', 'attached-2', 'pidfile']) t.equal((await sysctr(['pull', `oci:${layout}:${tag}`])).exitCode, 0, tag);
  });

  t.test('attached form: systemctl stop right after install --now', async (t) => {
    const r = await sysctr(['install', '--name', 'early', '--set', 'SYSCTR_STOP_TIMEOUT=2', '--now', 'layout:attached-1']);
    t.equal(r.exitCode, 0, r.stderr);
    await stopNow(t, 'early.service');
  });

  t.test('attached form: update, rollback, and systemctl stop right after the rollback', async (t) => {
    t.equal((await m.exec(['systemctl', 'start', 'early.service'])).exitCode, 0);
    const up = await sysctr(['containers', 'update', '--rebase', 'layout:attached-2', 'early']);
    t.equal(up.exitCode, 0, up.stderr);
    const rb = await sysctr(['containers', 'rollback', 'early']);
    t.equal(rb.exitCode, 0, rb.stderr);
    t.match(rb.stdout, /rolled back early: early\.1 -> early\.0 .*restarted/);
    await stopNow(t, 'early.service');
    t.equal((await sysctr(['uninstall', 'early'])).exitCode, 0);
  });

  t.test('pid-file form: systemctl stop right after install --now', async (t) => {
    const r = await sysctr(['install', '--name', 'early-pid', '--set', 'SYSCTR_STOP_TIMEOUT=2', '--now', 'layout:pidfile']);
    t.equal(r.exitCode, 0, r.stderr);
    await stopNow(t, 'early-pid.service');
    t.equal((await sysctr(['uninstall', 'early-pid'])).exitCode, 0);
  });
}

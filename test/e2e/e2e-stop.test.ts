/**
 * The stop matrix (docs/runtime.md), in a systemd booted with systemd-nspawn, with real runc: a container
 * whose PID 1 ignores SIGTERM (busybox httpd -f) must stop with `systemctl stop`, end `inactive`
 * (Result=success, not failed), leave no runc container, within the grace period - with the default
 * unit, an image's own unit in the attached form, in the --pid-file form, and in the --pid-file form
 * with no ExecStop at all (what Atomic generated: EXEC_STOP empty). A baseline without sysctr's
 * drop-in shows what the drop-in is for.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { projectDir } from '../helpers/cli.js';
import { Machine, requireRealSystemd } from '../helpers/nspawn.js';
import { buildImageWithUmoci } from '../helpers/images.js';

const ATTACHED = fs.readFileSync(path.join(projectDir, 'fixtures/images/example/exports/service.template'), 'utf8');
const PIDFILE_UNIT = `[Unit]
Description=pid-file form, Atomic style

[Service]
ExecStartPre=$EXEC_STARTPRE
ExecStart=$EXEC_START
ExecStop=$EXEC_STOP
ExecStopPost=$EXEC_STOPPOST
Restart=on-crash
WorkingDirectory=$DESTDIR
PIDFile=$PIDFILE

[Install]
WantedBy=multi-user.target
`;
// Atomic left EXEC_STOP empty in this form; an image unit written for it may have no ExecStop
const PIDFILE_NO_STOP = PIDFILE_UNIT.replace('ExecStop=$EXEC_STOP\n', '');

interface Variant {
  tag: string;
  unit?: string;
  port: number;
}
const variants: Variant[] = [
  { tag: 'default-unit', port: 8201 },
  { tag: 'own-attached', unit: ATTACHED, port: 8202 },
  { tag: 'own-pidfile', unit: PIDFILE_UNIT, port: 8203 },
  { tag: 'own-pidfile-no-execstop', unit: PIDFILE_NO_STOP, port: 8204 },
];

if (requireRealSystemd(t)) {
  const m = await Machine.boot();
  t.teardown(() => m.shutdown());
  const layout = path.join(m.scratch, 'layout');
  for (const v of variants) {
    const src = path.join(m.scratch, `src-${v.tag}`);
    fs.cpSync(path.join(projectDir, 'fixtures/images/example'), src, { recursive: true });
    if (v.unit) fs.writeFileSync(path.join(src, 'exports/service.template'), v.unit);
    else fs.rmSync(path.join(src, 'exports/service.template'));
    await buildImageWithUmoci(src, layout, v.tag);
  }
  // a PID 1 that handles SIGTERM: stops on it, without waiting out the grace period
  const polite = path.join(m.scratch, 'src-polite');
  fs.cpSync(path.join(projectDir, 'fixtures/images/example'), polite, { recursive: true });
  fs.writeFileSync(path.join(polite, 'rootfs/usr/bin/run.sh'), '#!/bin/sh\ntrap "exit 0" TERM\nwhile :; do sleep 0.2; done\n');
  // and no config.json.template: the default config.json from the image config (Cmd /usr/bin/run.sh)
  fs.rmSync(path.join(polite, 'exports/config.json.template'));
  await buildImageWithUmoci(polite, layout, 'polite');

  const env = { SYSCTR_ROOT: '/var/lib/sysctr-stop' };
  const sysctr = (args: string[]) => m.sysctr(args, env);
  const show = async (unit: string) => {
    const r = await m.exec(['systemctl', 'show', '-p', 'ActiveState,SubState,Result', unit]);
    return Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split('=')));
  };
  const answers = async (port: number) => {
    for (let i = 0; i < 40; i++) {
      const r = await m.exec(['busybox', 'wget', '-qO-', `http://127.0.0.1:${port}/`]);
      if (r.exitCode === 0) return r.stdout.trim();
      await new Promise((res) => setTimeout(res, 250));
    }
    return '';
  };
  const timedStop = async (unit: string) => {
    const start = Date.now();
    const r = await m.exec(['systemctl', 'stop', unit]);
    return { ...r, ms: Date.now() - start };
  };

  t.test('pull the variants', async (t) => {
    for (const tag of [...variants.map((v) => v.tag), 'polite']) t.equal((await sysctr(['pull', `oci:${layout}:${tag}`])).exitCode, 0);
  });

  for (const v of variants) {
    t.test(`${v.tag}: systemctl stop of a SIGTERM-ignoring PID 1 ends inactive, no runc state`, async (t) => {
      const name = `stop-${v.tag}`;
      const unit = `${name}.service`;
      const inst = await sysctr(['install', '--name', name, '--set', `PORT=${v.port}`, '--set', 'MESSAGE=up', '--set', 'SYSCTR_STOP_TIMEOUT=2', '--now', `layout:${v.tag}`]);
      t.equal(inst.exitCode, 0, inst.stderr);
      t.equal(await answers(v.port), 'up', 'the service answers');
      const info = JSON.parse((await m.exec(['cat', `/var/lib/sysctr-stop/${name}.0/info`])).stdout);
      t.equal(info.detached, v.tag.startsWith('own-pidfile'), 'detached (--pid-file) form exactly when the unit uses PIDFILE and EXEC_STOPPOST');
      if (info.detached) {
        t.match((await m.exec(['systemctl', 'show', '-p', 'Type', unit])).stdout, /Type=forking/);
        t.equal((await m.exec(['cat', `/run/container-${name}.pid`])).exitCode, 0, 'pid file written');
      }
      const verify = await m.exec(['systemd-analyze', 'verify', `/etc/systemd/system/${unit}`]);
      t.equal(verify.exitCode, 0, `systemd-analyze verify (unit + drop-in): ${verify.stderr}`);

      const stop = await timedStop(unit);
      t.equal(stop.exitCode, 0, stop.stderr);
      t.same(await show(unit), { ActiveState: 'inactive', SubState: 'dead', Result: 'success' });
      t.notMatch((await m.exec(['runc', 'list', '-q'])).stdout, new RegExp(`^${name}$`, 'm'), 'no runc container left');
      t.ok(stop.ms >= 1500 && stop.ms < 8000, `SIGTERM ignored, SIGKILL after the 2 s grace period (took ${stop.ms} ms)`);
      const journal = await m.exec(['journalctl', '-u', unit, '--no-pager', '-o', 'cat']);
      t.match(journal.stdout, /ignored SIGTERM for 2s: sending SIGKILL/);

      // it starts again after such a stop (no stale state), and stops again
      t.equal((await m.exec(['systemctl', 'start', unit])).exitCode, 0);
      t.equal(await answers(v.port), 'up', 'answers after a restart');
      await timedStop(unit);
      t.equal((await show(unit)).ActiveState, 'inactive');
      t.equal((await sysctr(['uninstall', name])).exitCode, 0);
    });
  }

  t.test('a PID 1 that handles SIGTERM stops on it, without waiting the grace period (default config.json)', async (t) => {
    const inst = await sysctr(['install', '--name', 'polite', '--set', 'SYSCTR_STOP_TIMEOUT=20', '--now', 'layout:polite']);
    t.equal(inst.exitCode, 0, inst.stderr);
    await new Promise((res) => setTimeout(res, 500));
    t.equal((await show('polite.service')).ActiveState, 'active');
    const stop = await timedStop('polite.service');
    t.same(await show('polite.service'), { ActiveState: 'inactive', SubState: 'dead', Result: 'success' });
    t.ok(stop.ms < 5000, `stopped on SIGTERM in ${stop.ms} ms (grace period 20 s)`);
    t.equal((await sysctr(['uninstall', 'polite'])).exitCode, 0);
  });

  t.test('install --now of a service that does not start: installed, failed, exit 1 saying so', async (t) => {
    const r = await sysctr(['install', '--name', 'nostart', '--set', 'PORT=8210', '--set', 'PIDFILE=/nonexistent/dir/nostart.pid', '--now', 'layout:own-pidfile']);
    t.equal(r.exitCode, 1);
    t.match(r.stderr, /^sysctr: installed nostart, but it did not start: /m); // after any capability warning
    t.match(r.stderr, /journalctl -u nostart\.service/);
    t.equal((await m.exec(['test', '-e', '/var/lib/sysctr-stop/.nostart.journal'])).exitCode, 1, 'no half-done journal: the install is complete');
    const list = JSON.parse((await sysctr(['containers', 'list', '--all', '--json'])).stdout);
    t.equal(list.find((c: { name: string }) => c.name === 'nostart')?.state, 'failed');
    t.equal((await sysctr(['uninstall', 'nostart'])).exitCode, 0);
  });

  t.test('baseline: without the drop-in, the same stop leaves the unit failed', async (t) => {
    const name = 'baseline';
    const inst = await sysctr(['install', '--name', name, '--set', 'PORT=8209', '--set', 'SYSCTR_STOP_TIMEOUT=2', '--now', 'layout:own-attached']);
    t.equal(inst.exitCode, 0, inst.stderr);
    t.equal(await answers(8209), 'Hello from a sysctr system container');
    await m.sh(`rm /etc/systemd/system/${name}.service.d/sysctr.conf && systemctl daemon-reload`);
    await timedStop(`${name}.service`);
    const s = await show(`${name}.service`);
    t.equal(s.ActiveState, 'failed', 'runc run exits 137 after the SIGKILL: a failure without SuccessExitStatus');
    t.equal(s.Result, 'exit-code');
    t.equal((await sysctr(['uninstall', name])).exitCode, 0, 'uninstall cleans up a failed unit too');
    t.equal((await m.exec(['systemctl', 'show', '-p', 'LoadState', `${name}.service`])).stdout.trim(), 'LoadState=not-found');
  });
}

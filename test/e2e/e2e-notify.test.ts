/**
 * sd_notify readiness through runc, in a systemd booted with systemd-nspawn (docs/health.md): the
 * image fixtures/images/health-notify has a Type=notify unit template; its service says READY=1
 * with a static helper compiled here (gcc -static, src/sd-ready.c) to the NOTIFY_SOCKET runc
 * gives the container. install --now returns once it is ready; an update to a version that never
 * says READY=1 is reverted when its start times out, the old one answering again.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { projectDir } from '../helpers/cli.js';
import { run } from '../helpers/builders.js';
import { Machine, requireRealSystemd } from '../helpers/nspawn.js';
import { buildImageWithUmoci } from '../helpers/images.js';
import { requirePrereqs } from '../helpers/prereq.js';

if (requireRealSystemd(t) && requirePrereqs(t, ['umoci', 'gcc', 'busybox'])) {
  const m = await Machine.boot();
  t.teardown(() => m.shutdown());
  const src = path.join(m.scratch, 'src');
  fs.cpSync(path.join(projectDir, 'fixtures/images/health-notify'), src, { recursive: true });
  await run('gcc', ['-static', '-Os', '-o', path.join(src, 'rootfs/usr/bin/sd-ready'), path.join(src, 'src/sd-ready.c')]);
  const layout = path.join(m.scratch, 'layout');
  await buildImageWithUmoci(src, layout, 'notify');

  const root = '/var/lib/sysctr-notify';
  const sysctr = (args: string[]) => m.sysctr(args, { SYSCTR_ROOT: root });
  const PORT = 8371;
  const name = 'health-notify';
  const link = async () => (await m.exec(['readlink', `${root}/${name}`])).stdout.trim();
  const show = async (p: string) => (await m.exec(['systemctl', 'show', '-p', p, '--value', `${name}.service`])).stdout.trim();
  const get = async (file: string) => (await m.exec(['busybox', 'wget', '-qO-', `http://127.0.0.1:${PORT}/${file}`])).stdout.trim();

  t.before(async () => {
    const p = await sysctr(['pull', `oci:${layout}:notify`]);
    if (p.exitCode !== 0) throw new Error(`pull: ${p.stderr}`);
  });

  t.test('install --now of a Type=notify service: started once it said READY=1 through runc', async (t) => {
    const t0 = Date.now();
    const r = await sysctr(['install', '--name', name, '--set', `PORT=${PORT}`, '--set', 'READY_DELAY=2', '--settle', '0', '--now', 'layout:notify']);
    t.equal(r.exitCode, 0, r.stderr);
    t.ok(Date.now() - t0 >= 2000, 'systemctl start waited for READY=1');
    t.equal(await show('Type'), 'notify');
    t.equal(await show('ActiveState'), 'active');
    t.match(await get('notify.txt'), /^NOTIFY_SOCKET=\/\S+$/, 'the container got a NOTIFY_SOCKET');
    t.notMatch(await get('notify.txt'), /sd-ready failed/);
    t.equal(await get('version.txt'), 'notify');
  });

  t.test('update to a version that never says READY=1: its start times out, reverted, the old one answers', async (t) => {
    const r = await sysctr(['containers', 'update', '--set', 'READY=never', '--set', 'START_TIMEOUT=4', name]);
    t.equal(r.exitCode, 1, r.stdout);
    t.match(r.stderr, /health-notify: the new deployment health-notify\.1 \(localhost\/layout:notify\) did not start/);
    t.equal(await link(), `${name}.0`);
    t.equal(await show('ActiveState'), 'active');
    t.equal(await get('version.txt'), 'notify');
  });

  t.test('update to a version that says READY=1: committed', async (t) => {
    const r = await sysctr(['containers', 'update', '--set', 'READY=yes', '--set', 'READY_DELAY=1', name]);
    t.equal(r.exitCode, 0, r.stderr);
    t.equal(await link(), `${name}.1`);
    t.equal(await show('ActiveState'), 'active');
    t.equal((await sysctr(['uninstall', name])).exitCode, 0);
  });
}

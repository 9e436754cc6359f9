/**
 * A service that exits at once is not reported as started: `install --now` and `containers
 * rollback` wait for it to stay active (`--settle`, default 2 s), in a systemd booted with
 * systemd-nspawn, with real runc. The image update-v3's PID 1 exits immediately (its unit restarts
 * it on failure, so `systemctl start` itself succeeds each time).
 */
import t from 'tap';
import path from 'node:path';
import { projectDir } from '../helpers/cli.js';
import { Machine, requireRealSystemd } from '../helpers/nspawn.js';
import { buildImageWithUmoci } from '../helpers/images.js';

if (requireRealSystemd(t)) {
  const m = await Machine.boot();
  t.teardown(() => m.shutdown());
  const layout = path.join(m.scratch, 'layout');
  for (const v of ['v1', 'v3']) await buildImageWithUmoci(path.join(projectDir, `fixtures/images/update-${v}`), layout, v);
  const root = '/var/lib/sysctr-settle';
  const sysctr = (args: string[]) => m.sysctr(args, { SYSCTR_ROOT: root });
  const listed = async (name: string) =>
    (JSON.parse((await sysctr(['containers', 'list', '--all', '--json'])).stdout) as Array<{ name: string; state: string }>).find((c) => c.name === name);
  const link = async (name: string) => (await m.exec(['readlink', `${root}/${name}`])).stdout.trim();

  t.before(async () => {
    for (const v of ['v1', 'v3']) {
      const p = await sysctr(['pull', `oci:${layout}:${v}`]);
      if (p.exitCode !== 0) throw new Error(`pull ${v}: ${p.stderr}`);
    }
  });

  t.test('install --now of a service that exits at once: installed, exit 1, said so', async (t) => {
    const r = await sysctr(['install', '--name', 'settle-bad', '--set', 'PORT=8341', '--now', 'layout:v3']);
    t.equal(r.exitCode, 1, r.stdout);
    t.match(r.stderr, /^sysctr: installed settle-bad, but it did not stay up: settle-bad\.service (is \w+|restarted)/m);
    t.match(r.stderr, /journalctl -u settle-bad\.service/);
    t.notMatch(r.stdout, /and started it/);
    t.ok(await listed('settle-bad'), 'it is installed: the install completed');
    t.equal((await m.exec(['test', '-e', `${root}/.settle-bad.journal`])).exitCode, 1, 'no journal left');
    t.equal((await sysctr(['uninstall', 'settle-bad'])).exitCode, 0);
  });

  t.test('install --now --settle 0 does not wait (the report is systemctl start\'s)', async (t) => {
    const r = await sysctr(['install', '--name', 'settle-nowait', '--set', 'PORT=8342', '--settle', '0', '--now', 'layout:v3']);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, /installed settle-nowait .* and started it/);
    t.equal((await sysctr(['uninstall', 'settle-nowait'])).exitCode, 0);
  });

  t.test('install --now of a service that stays up: exit 0 after the settle time', async (t) => {
    const t0 = Date.now();
    const r = await sysctr(['install', '--name', 'settle-web', '--set', 'PORT=8343', '--settle', '1', '--now', 'layout:v1']);
    t.equal(r.exitCode, 0, r.stderr);
    t.ok(Date.now() - t0 >= 1000, 'waited the settle time');
    t.equal((await m.exec(['systemctl', 'is-active', 'settle-web.service'])).stdout.trim(), 'active');
  });

  t.test('rollback to a deployment that exits at once: exit 1, said so, not switched back again', async (t) => {
    // v3 deployed beside v1 while stopped (an update of a stopped service does not start it), then
    // back to v1 and started, so that the next rollback starts v3
    t.equal((await sysctr(['stop', 'settle-web'])).exitCode, 0);
    const up = await sysctr(['containers', 'update', '--rebase', 'layout:v3', 'settle-web']);
    t.equal(up.exitCode, 0, up.stderr);
    t.equal(await link('settle-web'), 'settle-web.1');
    const back = await sysctr(['containers', 'rollback', 'settle-web']);
    t.equal(back.exitCode, 0, back.stderr);
    t.equal(await link('settle-web'), 'settle-web.0');
    t.equal((await sysctr(['start', 'settle-web'])).exitCode, 0);
    t.equal((await m.exec(['systemctl', 'is-active', 'settle-web.service'])).stdout.trim(), 'active');
    const again = await sysctr(['containers', 'rollback', 'settle-web']);
    t.equal(again.exitCode, 1, again.stdout);
    t.match(again.stderr, /^sysctr: settle-web: rolled back to settle-web\.1 \(localhost\/layout:v3\), but it did not stay up: settle-web\.service (is \w+|restarted)/m);
    t.equal(await link('settle-web'), 'settle-web.1', 'left where the user asked: a rollback is not undone');
    const bad = await sysctr(['containers', 'rollback', '--settle', 'soon', 'settle-web']);
    t.equal(bad.exitCode, 2);
    t.match(bad.stderr, /--settle \S+: expected a number of seconds/);
    t.equal((await sysctr(['uninstall', 'settle-web'])).exitCode, 0);
  });
}

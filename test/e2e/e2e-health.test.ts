/**
 * Health checks in a systemd booted with systemd-nspawn, with real runc (docs/health.md): the
 * images fixtures/images/health-* (manifest.json healthcheck) built with umoci, and two built with
 * buildah from them with a Docker HEALTHCHECK (`buildah config --healthcheck`, committed
 * --format docker). `sysctr healthcheck` and its exit codes, HEALTH in containers list, and the
 * gate: an update or rollback to a version whose check fails is switched back, the old one
 * answering again.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectDir } from '../helpers/cli.js';
import { containersTool, run } from '../helpers/builders.js';
import { Machine, requireRealSystemd } from '../helpers/nspawn.js';
import { buildImageWithUmoci } from '../helpers/images.js';
import { requirePrereqs } from '../helpers/prereq.js';

if (requireRealSystemd(t) && requirePrereqs(t, ['umoci', 'buildah', 'skopeo', 'busybox'])) {
  const m = await Machine.boot();
  t.teardown(() => m.shutdown());
  const layout = path.join(m.scratch, 'layout');
  for (const v of ['v1', 'v2', 'slow']) await buildImageWithUmoci(path.join(projectDir, `fixtures/images/health-${v}`), layout, v);
  await buildImageWithUmoci(path.join(projectDir, 'fixtures/images/update-v1'), layout, 'nocheck');
  // buildah: a Docker HEALTHCHECK in the image config (kept only by the docker format)
  const buildah = containersTool('buildah', 'vfs', path.join(m.scratch, 'buildah'));
  // buildah names an oci: image after the layout's path, which must be lowercase (scratch dirs are not)
  const lower = path.join(os.tmpdir(), `sysctr-health-oci-${process.pid}`);
  fs.rmSync(lower, { force: true });
  fs.symlinkSync(layout, lower);
  t.teardown(() => fs.rmSync(lower, { force: true }));
  const withDockerCheck = async (from: string, test: string, archive: string, ref: string) => {
    const ctr = (await buildah(['from', '--pull-never', '--name', `health-build-${from}`, `oci:${lower}:${from}`])).trim();
    await buildah(['config', '--healthcheck', test, '--healthcheck-interval', '1s', '--healthcheck-timeout', '2s', '--healthcheck-retries', '2', '--healthcheck-start-period', '1s', ctr]);
    await buildah(['commit', '--format', 'docker', ctr, `docker-archive:${archive}:${ref}`]);
    await buildah(['rm', ctr]);
  };
  const dockerArchive = path.join(m.scratch, 'dockercheck.tar');
  const precedenceArchive = path.join(m.scratch, 'precedence.tar');
  // update-v1 (no manifest check) with a check that passes; health-v2 (its manifest check fails)
  // with one that would pass: manifest.json wins, so that one stays unhealthy
  await withDockerCheck('nocheck', 'CMD-SHELL wget -q -O- http://127.0.0.1:$PORT/version.txt', dockerArchive, 'localhost/dockercheck:1');
  await withDockerCheck('v2', 'CMD ["/bin/true"]', precedenceArchive, 'localhost/precedence:1');
  const config = JSON.parse(await run('skopeo', ['inspect', '--config', '--raw', `docker-archive:${dockerArchive}`])).config.Healthcheck;

  const root = '/var/lib/sysctr-health';
  const sysctr = (args: string[]) => m.sysctr(args, { SYSCTR_ROOT: root });
  const PORT = 8361;
  const link = async (name: string) => (await m.exec(['readlink', `${root}/${name}`])).stdout.trim();
  const active = async (unit: string) => (await m.exec(['systemctl', 'is-active', unit])).stdout.trim();
  /** version.txt; polls a while for an answer (a service switched back may still be coming up) */
  const get = async (port: number): Promise<string> => {
    for (let i = 0; ; i++) {
      const r = await m.exec(['busybox', 'wget', '-qO-', `http://127.0.0.1:${port}/version.txt`]);
      if ((r.exitCode === 0 && r.stdout.trim()) || i === 40) return r.stdout.trim();
      await new Promise((res) => setTimeout(res, 150));
    }
  };
  const rows = async () => JSON.parse((await sysctr(['containers', 'list', '--all', '--json'])).stdout) as Array<{ name: string; health: string }>;
  const health = async (name: string) => (await rows()).find((r) => r.name === name)?.health;

  t.before(async () => {
    for (const src of [`oci:${layout}:v1`, `oci:${layout}:v2`, `oci:${layout}:slow`, `oci:${layout}:nocheck`, `docker-archive:${dockerArchive}`, `docker-archive:${precedenceArchive}`]) {
      const p = await sysctr(['pull', src]);
      if (p.exitCode !== 0) throw new Error(`pull ${src}: ${p.stderr}`);
    }
  });

  t.test('buildah wrote the HEALTHCHECK into the docker config', async (t) => {
    t.match(config, { Test: ['CMD-SHELL', /wget/], Interval: 1e9, Retries: 2 });
  });

  t.test('install: HEALTH starting until a check ran; sysctr healthcheck: healthy, exit 0, recorded', async (t) => {
    const r = await sysctr(['install', '--name', 'health-web', '--set', `PORT=${PORT}`, '--now', 'layout:v1']);
    t.equal(r.exitCode, 0, r.stderr);
    t.equal(await health('health-web'), 'starting');
    const hc = await sysctr(['healthcheck', 'health-web']);
    t.equal(hc.exitCode, 0, hc.stderr);
    t.match(hc.stdout, /^health-web: healthy\nv1$/);
    const js = await sysctr(['healthcheck', 'health-web', '--json']);
    t.match(JSON.parse(js.stdout), { name: 'health-web', deployment: 'health-web.0', status: 'healthy', exitCode: 0, output: 'v1\n', timedOut: false });
    t.equal(await health('health-web'), 'healthy');
    const table = (await sysctr(['containers', 'list'])).stdout.split('\n');
    const cols = table[0].split(/\s{2,}/);
    t.ok(cols.includes('HEALTH'), table[0]);
    const row = table.find((l) => l.startsWith('health-web '))!;
    t.equal(row.split(/\s{2,}/)[cols.indexOf('HEALTH')], 'healthy', row);
    const st = await m.exec(['stat', '-c', '%a', `${root}/health-web.0/health`]);
    t.equal(st.stdout.trim(), '600');
  });

  t.test('update to an image whose Docker HEALTHCHECK passes: committed', async (t) => {
    const r = await sysctr(['containers', 'update', '--rebase', 'localhost/dockercheck:1', 'health-web']);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, /updated health-web: health-web\.0 .* -> health-web\.1 \(localhost\/dockercheck:1\), restarted/);
    t.equal(await link('health-web'), 'health-web.1');
    t.equal(await health('health-web'), 'healthy', 'the gate recorded its passing check');
    const info = JSON.parse((await m.exec(['cat', `${root}/health-web.1/info`])).stdout);
    t.match(info.healthcheck, { source: 'image', cmd: ['/bin/sh', '-c', /wget/], intervalMs: 1000, retries: 2, startPeriodMs: 1000 });
  });

  t.test('update to a version whose check fails (the unit stays active): reverted, the old one answers', async (t) => {
    const dry = await sysctr(['containers', 'update', '--dry-run', '--rebase', 'localhost/precedence:1', 'health-web']);
    t.equal(dry.exitCode, 0, dry.stderr);
    t.match(dry.stdout, /would run health-web's health check until it passes, for up to 3s, and switch back to health-web\.1 if it does not/);
    const t0 = Date.now();
    // the buildah check of this image would pass; its manifest.json check wins, and fails
    const r = await sysctr(['containers', 'update', '--rebase', 'localhost/precedence:1', 'health-web']);
    const took = Date.now() - t0;
    t.equal(r.exitCode, 1, r.stdout);
    t.match(r.stderr, /health-web: the new deployment health-web\.0 \(localhost\/precedence:1\) is unhealthy: health-web's health check did not pass within 3s/);
    t.match(r.stderr, /rolled back to health-web\.1 \(localhost\/dockercheck:1\), which is running again/);
    t.ok(took < 20_000, `gave up in time (${took} ms)`);
    t.equal(await link('health-web'), 'health-web.1');
    t.equal(await active('health-web.service'), 'active');
    t.equal(await get(PORT), 'v1', 'the old version answers again');
    const failed = JSON.parse((await m.exec(['cat', `${root}/health-web.0/info`])).stdout);
    t.match(failed, { healthcheck: { source: 'manifest' }, failed: { reason: /health check did not pass/ } });
    t.equal((await m.exec(['test', '-e', `${root}/.health-web.journal`])).exitCode, 1, 'no journal left');
  });

  t.test('rollback to the deployment whose check fails: switched back, exit 1', async (t) => {
    const r = await sysctr(['containers', 'rollback', 'health-web']);
    t.equal(r.exitCode, 1, r.stdout);
    t.match(r.stderr, /rolled back to health-web\.0 \(localhost\/precedence:1\), but it is unhealthy: .*; switched back to health-web\.1/);
    t.equal(await link('health-web'), 'health-web.1');
    t.equal(await get(PORT), 'v1');
    t.equal((await m.exec(['test', '-e', `${root}/.health-web.journal`])).exitCode, 1, 'no journal left');
  });

  t.test('killed after the start, before the gate: the next command runs the gate and reverts', async (t) => {
    const killed = await m.sysctr(['containers', 'update', '--rebase', 'localhost/precedence:1', 'health-web'], { SYSCTR_ROOT: root, SYSCTR_FAULT_STEP: 'update:start' });
    t.not(killed.exitCode, 0);
    t.equal(await link('health-web'), 'health-web.0', 'the unchecked version is live');
    t.match((await rows()).find((r) => r.name === 'health-web'), { pending: 'update' });
    const next = await sysctr(['containers', 'update', 'health-web']);
    t.equal(next.exitCode, 0, next.stderr);
    t.match(next.stdout, /health-web: an interrupted update to health-web\.0 was finished but it is unhealthy \(health-web's health check did not pass.*\); back on health-web\.1/);
    t.match(next.stdout, /health-web is already up to date \(localhost\/dockercheck:1/);
    t.equal(await link('health-web'), 'health-web.1');
    t.equal(await get(PORT), 'v1');
    t.equal((await m.exec(['test', '-e', `${root}/.health-web.journal`])).exitCode, 1, 'no journal left');
  });

  t.test('update, then rollback, to healthy versions: both committed', async (t) => {
    const up = await sysctr(['containers', 'update', '--rebase', 'layout:v1', 'health-web']);
    t.equal(up.exitCode, 0, up.stderr);
    t.equal(await link('health-web'), 'health-web.0');
    const back = await sysctr(['containers', 'rollback', 'health-web']);
    t.equal(back.exitCode, 0, back.stderr);
    t.equal(await link('health-web'), 'health-web.1');
    t.equal(await health('health-web'), 'healthy');
  });

  t.test('a check that hangs: killed at its timeout, unhealthy, exit 1; list -f health=unhealthy', async (t) => {
    const r = await sysctr(['install', '--name', 'health-slow', '--set', `PORT=${PORT + 1}`, '--now', 'layout:slow']);
    t.equal(r.exitCode, 0, r.stderr);
    const t0 = Date.now();
    const hc = await sysctr(['healthcheck', 'health-slow']);
    t.equal(hc.exitCode, 1, hc.stdout);
    t.ok(Date.now() - t0 < 10_000, 'returned after the timeout, not after the sleep');
    t.match(hc.stdout, /^health-slow: unhealthy \(timed out\)\ntimed out after 1\.5s, killed/);
    const ps = await m.exec(['runc', 'exec', 'health-slow', 'ps']);
    t.notMatch(ps.stdout, /sleep 30/, 'the check process was killed');
    const unhealthy = await sysctr(['containers', 'list', '-f', 'health=unhealthy', '--quiet']);
    t.equal(unhealthy.stdout.trim(), 'health-slow');
    const healthy = await sysctr(['containers', 'list', '-f', 'health=healthy', '--quiet']);
    t.equal(healthy.stdout.trim(), 'health-web');
  });

  t.test('no check, or not running: a clear error, exit 1; HEALTH -', async (t) => {
    t.equal((await sysctr(['install', '--name', 'health-none', '--set', `PORT=${PORT + 2}`, '--now', 'layout:nocheck'])).exitCode, 0);
    const none = await sysctr(['healthcheck', 'health-none']);
    t.equal(none.exitCode, 1);
    t.match(none.stderr, /^sysctr: health-none has no health check \(localhost\/layout:nocheck declares none\)/);
    t.match(none.stderr, /manifest\.json "healthcheck"/);
    t.equal(await health('health-none'), '-');
    t.equal((await sysctr(['stop', 'health-slow'])).exitCode, 0);
    // two updates of the stopped service (not gated): the second reuses health-slow.0, whose
    // unhealthy result must not carry over to the new deployment
    t.equal(await health('health-slow'), 'unhealthy');
    for (const v of ['a', 'b']) t.equal((await sysctr(['containers', 'update', '--set', `EXTRA=${v}`, 'health-slow'])).exitCode, 0, v);
    t.equal(await link('health-slow'), 'health-slow.0');
    t.equal(await health('health-slow'), 'starting', 'no check has run for the new deployment');
    const stopped = await sysctr(['healthcheck', 'health-slow']);
    t.equal(stopped.exitCode, 1);
    t.match(stopped.stderr, /^sysctr: health-slow is not running: its health check runs in the running container/);
    t.match(stopped.stderr, /sysctr start health-slow/);
    const missing = await sysctr(['healthcheck', 'health-nosuch']);
    t.equal(missing.exitCode, 1);
    t.match(missing.stderr, /health-nosuch is not installed/);
    for (const n of ['health-web', 'health-slow', 'health-none']) t.equal((await sysctr(['uninstall', n])).exitCode, 0, n);
    t.notOk(fs.existsSync(path.join(root, 'health-web')));
  });
}

/**
 * Update and rollback end to end, in a systemd booted with systemd-nspawn, with real
 * runc: v1 installed and serving, updated to v2 (other content, a changed manifest default), rolled
 * back and forth, an update to a v3 that cannot start rolled back automatically, a --set-only
 * update, a stopped service left stopped, and the errors a user meets on the way.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { projectDir } from '../helpers/cli.js';
import { Machine, requireRealSystemd } from '../helpers/nspawn.js';
import { buildImageWithUmoci } from '../helpers/images.js';

if (requireRealSystemd(t)) {
  const m = await Machine.boot();
  t.teardown(() => m.shutdown());
  const layout = path.join(m.scratch, 'layout');
  for (const v of ['v1', 'v2', 'v3']) await buildImageWithUmoci(path.join(projectDir, `fixtures/images/update-${v}`), layout, v);
  // v2 with a new variable that has no default: its update must fail before anything changes
  const v4 = path.join(m.scratch, 'src-v4');
  fs.cpSync(path.join(projectDir, 'fixtures/images/update-v2'), v4, { recursive: true });
  fs.appendFileSync(path.join(v4, 'exports/service.template'), '# needs $NEW_SETTING\n');
  await buildImageWithUmoci(v4, layout, 'v4');
  // v2 whose unit is wanted by another target: an update to it must enable it from its own [Install]
  const v5 = path.join(m.scratch, 'src-v5');
  fs.cpSync(path.join(projectDir, 'fixtures/images/update-v2'), v5, { recursive: true });
  const v5unit = path.join(v5, 'exports/service.template');
  fs.writeFileSync(v5unit, fs.readFileSync(v5unit, 'utf8').replace('WantedBy=multi-user.target', 'WantedBy=basic.target'));
  await buildImageWithUmoci(v5, layout, 'v5');
  const root = '/var/lib/sysctr-e2e';
  const env = { SYSCTR_ROOT: root };
  const sysctr = (args: string[]) => m.sysctr(args, env);
  const PORT = 8311;

  /** GET a path; polls until `want` matches (the service may still be coming up). */
  const get = async (file: string, want: RegExp, port = PORT): Promise<string> => {
    let body = '';
    for (let i = 0; i < 60; i++) {
      const r = await m.exec(['busybox', 'wget', '-qO-', `http://127.0.0.1:${port}/${file}`]);
      body = r.exitCode === 0 ? r.stdout : '';
      if (want.test(body)) break;
      await new Promise((res) => setTimeout(res, 150));
    }
    return body.trim();
  };
  const link = async () => (await m.exec(['readlink', `${root}/web`])).stdout.trim();
  const active = async (unit = 'web.service') => (await m.exec(['systemctl', 'is-active', unit])).stdout.trim();
  const listRow = async () => JSON.parse((await sysctr(['containers', 'list', '--all', '--json'])).stdout).find((r: { name: string }) => r.name === 'web');
  let uuid = '';

  t.test('install v1 --now: serves v1', async (t) => {
    for (const v of ['v1', 'v2', 'v3', 'v4', 'v5']) {
      const p = await sysctr(['pull', `oci:${layout}:${v}`]);
      t.equal(p.exitCode, 0, `pull ${v}: ${p.stderr}`);
    }
    const r = await sysctr(['install', '--name', 'web', '--set', `PORT=${PORT}`, '--set', 'EXTRA=kept-from-install', '--now', 'layout:v1']);
    t.equal(r.exitCode, 0, r.stderr);
    const state = await get('state.txt', /version=v1/);
    t.match(state, /^version=v1 message=default message of v1 extra=kept-from-install uuid=[0-9a-f-]{36}$/);
    uuid = /uuid=(\S+)/.exec(state)![1];
    t.equal(await link(), 'web.0');
  });

  t.test('rollback with no other deployment: a clear error, nothing changed', async (t) => {
    const r = await sysctr(['containers', 'rollback', 'web']);
    t.equal(r.exitCode, 1);
    t.match(r.stderr, /web has no other deployment to roll back to \(only web\.0\)/);
    t.equal(await active(), 'active');
  });

  t.test('update without a change: already up to date, nothing touched', async (t) => {
    const r = await sysctr(['containers', 'update', 'web']);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, /web is already up to date/);
    t.equal((await m.exec(['test', '-e', `${root}/web.1`])).exitCode, 1, 'no second deployment');
  });

  t.test('update to an image with a variable that has no value: error naming it, service untouched', async (t) => {
    const unitBefore = (await m.exec(['cat', '/etc/systemd/system/web.service'])).stdout;
    const r = await sysctr(['containers', 'update', '--rebase', 'layout:v4', 'web']);
    t.equal(r.exitCode, 1);
    t.match(r.stderr, /service\.template:\d+:\d+: variable NEW_SETTING has no value; set it with --set NEW_SETTING=/);
    t.equal((await m.exec(['cat', '/etc/systemd/system/web.service'])).stdout, unitBefore, 'unit untouched');
    t.equal(await link(), 'web.0');
    t.equal((await m.exec(['test', '-e', `${root}/web.1`])).exitCode, 1, 'no new deployment');
    t.equal((await m.exec(['test', '-e', `${root}/.web.journal`])).exitCode, 1, 'no journal');
    t.match(await get('state.txt', /version=v1/), /version=v1/);
  });

  t.test('update --rebase v2: v2 content and v2 default, same UUID and --set values, link to .1', async (t) => {
    const r = await sysctr(['containers', 'update', '--rebase', 'layout:v2', 'web']);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, /updated web: web\.0 \(localhost\/layout:v1\) -> web\.1 \(localhost\/layout:v2\), restarted/);
    t.equal(await get('version.txt', /v2/), 'v2');
    t.equal(await get('state.txt', /version=v2/), `version=v2 message=default message of v2 extra=kept-from-install uuid=${uuid}`);
    t.equal(await link(), 'web.1');
    t.match(await listRow(), { image: 'localhost/layout:v2', deployment: 'web.1', state: 'running', rollback: { deployment: 'web.0', image: 'localhost/layout:v1' } });
    const table = (await sysctr(['containers', 'list'])).stdout;
    t.match(table, /\nweb\s+localhost\/layout:v2\s.*\brunning\s.*\bweb\.1\s+web\.0 localhost\/layout:v1/, 'list: live web.1 (v2), rollback web.0 (v1)');
    const text = (await sysctr(['containers', 'info', 'web'])).stdout;
    t.match(text, /^web: running, live deployment web\.1\n/);
    t.match(text, /\nweb\.0\s+rollback\s+localhost\/layout:v1\s.*\nweb\.1\s+live\s+localhost\/layout:v2\s/);
    const info = JSON.parse((await sysctr(['containers', 'info', 'web', '--json'])).stdout);
    t.match(info, { live: 'web.1', deployments: [{ deployment: 'web.0', live: false, image: 'localhost/layout:v1' }, { deployment: 'web.1', live: true, image: 'localhost/layout:v2' }] });
    const unit = (await m.exec(['grep', '-c', 'web.1', '/etc/systemd/system/web.service'])).stdout.trim();
    t.not(unit, '0', 'the unit is the new deployment\'s');
  });

  t.test('images delete refuses the image the rollback deployment uses', async (t) => {
    const r = await sysctr(['images', 'delete', 'layout:v1']);
    t.equal(r.exitCode, 1);
    t.match(r.stderr, /used by web\.0/);
  });

  t.test('rollback: v1 answers again; rollback again: v2', async (t) => {
    const r = await sysctr(['containers', 'rollback', 'web']);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, /rolled back web: web\.1 -> web\.0 \(localhost\/layout:v1\), restarted/);
    t.equal(await get('state.txt', /version=v1/), `version=v1 message=default message of v1 extra=kept-from-install uuid=${uuid}`);
    t.equal(await link(), 'web.0');
    t.match(await listRow(), { image: 'localhost/layout:v1', deployment: 'web.0', state: 'running' });
    const again = await sysctr(['containers', 'rollback', 'web']);
    t.equal(again.exitCode, 0, again.stderr);
    t.equal(await get('version.txt', /v2/), 'v2');
    t.equal(await link(), 'web.1');
  });

  t.test('--dry-run: update and rollback print their plan against the real state and change nothing', async (t) => {
    // the link, the running process, the unit, both deployments' files and times, no journal
    const state = async () =>
      (await m.sh(`readlink ${root}/web; systemctl show -p MainPID --value web.service; cat /etc/systemd/system/web.service; ls -la --time-style=full-iso ${root} ${root}/web.0 ${root}/web.1; cat ${root}/web.0/info; ls ${root}/.web.journal 2>&1`)).stdout;
    const before = await state();
    const up = await sysctr(['containers', 'update', '--dry-run', '--rebase', 'layout:v1', '--set', 'MESSAGE=dry', 'web']);
    t.equal(up.exitCode, 0, up.stderr);
    t.match(up.stdout, /^would update web: web\.1 \(localhost\/layout:v2, [0-9a-f]{12}\) -> web\.0 \(localhost\/layout:v1, [0-9a-f]{12}\)$/m);
    t.match(up.stdout, /^  MESSAGE: "default message of v2" -> "dry"$/m, 'the values that change');
    t.match(up.stdout, new RegExp(`^would reuse ${root}/web\\.0/rootfs \\(localhost/layout:v1\\) in place`, 'm'));
    t.match(up.stdout, new RegExp(`^would change ${root}/web\\.0/config\\.json \\(against web\\.1/config\\.json\\):\n--- web\\.1/config\\.json`, 'm'));
    t.match(up.stdout, /^would change \/etc\/systemd\/system\/web\.service:\n--- \/etc\/systemd\/system\/web\.service\n\+\+\+ /m);
    t.match(up.stdout, /^-WorkingDirectory=\S*web\.1$/m, 'the unit as a diff');
    t.match(up.stdout, /^would run: systemctl stop web\.service$/m, 'the service runs: stop and start');
    t.match(up.stdout, /^would run: systemctl daemon-reload$/m);
    t.match(up.stdout, /^would run: systemctl start web\.service$/m);
    t.match(up.stdout, /^would wait 2 s for web\.service to stay active, and switch back to web\.1 if it does not$/m);
    t.equal(await state(), before, 'nothing changed');

    const rb = await sysctr(['containers', 'rollback', '--dry-run', 'web']);
    t.equal(rb.exitCode, 0, rb.stderr);
    t.match(rb.stdout, /^would roll back web: web\.1 \(localhost\/layout:v2, [0-9a-f]{12}\) -> web\.0 \(localhost\/layout:v1, [0-9a-f]{12}\)$/m);
    t.match(rb.stdout, /^would run: systemctl start web\.service$/m);
    t.notMatch(rb.stdout, /^rolled back/m);
    t.equal(await state(), before, 'nothing changed');

    const pull = await sysctr(['containers', 'update', '--dry-run', '--pull', 'web']);
    t.equal(pull.exitCode, 1);
    t.match(pull.stderr, /--pull --dry-run does not pull/);
    const missing = await sysctr(['containers', 'update', '--dry-run', '--rebase', 'layout:nosuch', 'web']);
    t.equal(missing.exitCode, 1);
    t.match(missing.stderr, /image layout:nosuch is not in the store; --dry-run does not pull/);
    t.equal(await state(), before, 'nothing changed');
    // a short name two images answer to: an error listing both, never a pull from docker.io
    for (const n of ['localhost/one/dup:1', 'localhost/two/dup:1']) t.equal((await sysctr(['images', 'tag', 'layout:v1', n])).exitCode, 0);
    const tagged = await state();
    const ambiguous = await sysctr(['containers', 'update', '--rebase', 'dup:1', 'web']);
    t.equal(ambiguous.exitCode, 1, ambiguous.stderr);
    t.match(ambiguous.stderr, 'image name dup:1 is ambiguous: localhost/one/dup:1, localhost/two/dup:1');
    t.notMatch(ambiguous.stdout, /pulling/);
    t.equal(await state(), tagged, 'nothing changed by the refused update');
    for (const n of ['localhost/one/dup:1', 'localhost/two/dup:1']) await sysctr(['images', 'delete', n]);
  });

  t.test('update to v3, whose service exits at once: rolled back automatically, v2 answers, exit 1', async (t) => {
    const r = await sysctr(['containers', 'update', '--rebase', 'layout:v3', '--settle', '3', 'web']);
    t.equal(r.exitCode, 1, r.stdout);
    t.match(r.stderr, /web: the new deployment web\.0 \(localhost\/layout:v3\) did not start/);
    t.match(r.stderr, /rolled back to web\.1 \(localhost\/layout:v2\), which is running again; web\.0 is kept for inspection/);
    t.equal(await link(), 'web.1');
    t.equal(await active(), 'active');
    t.equal(await get('version.txt', /v2/), 'v2');
    const info = JSON.parse((await sysctr(['containers', 'info', 'web', '--json'])).stdout);
    t.match(info.deployments[0], { deployment: 'web.0', live: false, image: 'localhost/layout:v3', failed: { reason: /web\.service/ } }, 'the failed deployment is kept and marked');
    t.equal((await m.exec(['test', '-e', `${root}/.web.journal`])).exitCode, 1, 'no journal left');
  });

  t.test('update with --set only (same image): a new slot with the new value, the earlier --set kept', async (t) => {
    const r = await sysctr(['containers', 'update', '--set', 'MESSAGE=set-by-update', 'web']);
    t.equal(r.exitCode, 0, r.stderr);
    t.equal(await link(), 'web.0');
    t.equal(await get('state.txt', /set-by-update/), `version=v2 message=set-by-update extra=kept-from-install uuid=${uuid}`);
    const info = JSON.parse((await m.exec(['cat', `${root}/web.0/info`])).stdout);
    t.same(info.set, { PORT: String(PORT), EXTRA: 'kept-from-install', MESSAGE: 'set-by-update' });
    t.equal((await sysctr(['containers', 'update', '--set', 'MESSAGE=set-by-update', 'web'])).stdout.trim(), `web is already up to date (localhost/layout:v2, ${info.imageId.slice(7, 19)} in web.0)`);
  });

  t.test('update of a stopped service leaves it stopped; rollback too', async (t) => {
    t.equal((await sysctr(['stop', 'web'])).exitCode, 0);
    const r = await sysctr(['containers', 'update', '--rebase', 'layout:v1', 'web']);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, /not running \(left stopped\)/);
    t.equal(await active(), 'inactive');
    t.equal(await link(), 'web.1');
    const rb = await sysctr(['containers', 'rollback', 'web']);
    t.equal(rb.exitCode, 0, rb.stderr);
    t.equal(await active(), 'inactive');
    t.equal(await link(), 'web.0');
    t.equal((await sysctr(['start', 'web'])).exitCode, 0);
    t.equal(await get('state.txt', /set-by-update/), `version=v2 message=set-by-update extra=kept-from-install uuid=${uuid}`);
  });

  t.test('update --all reports each container; usage errors', async (t) => {
    const two = await sysctr(['install', '--name', 'web2', '--set', 'PORT=8312', '--now', 'layout:v1']);
    t.equal(two.exitCode, 0, two.stderr);
    const links = async () => (await m.sh(`readlink ${root}/web ${root}/web2`)).stdout;
    const linksBefore = await links();
    const dry = await sysctr(['containers', 'update', '--all', '--dry-run', '--set', 'EXTRA=all']);
    t.equal(dry.exitCode, 0, dry.stderr);
    t.match(dry.stdout, /^would update web: /m);
    t.match(dry.stdout, /^would update web2: web2\.0 .* -> web2\.1 /m);
    t.match(dry.stdout, /^  EXTRA: "kept-from-install" -> "all"$/m);
    t.equal(await links(), linksBefore, '--dry-run --all changed no link');
    const r = await sysctr(['containers', 'update', '--all', '--set', 'EXTRA=all']);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, /updated web: web\.0 .* -> web\.1/);
    t.match(r.stdout, /updated web2: web2\.0 .* -> web2\.1/);
    t.match(await get('state.txt', /extra=all/, 8312), /version=v1 .*extra=all/);
    t.match(await get('state.txt', /extra=all/), /version=v2 .*extra=all/);
    const both = await sysctr(['containers', 'update', '--all', 'web']);
    t.equal(both.exitCode, 2);
    t.match(both.stderr, /NAME or --all, not both/);
    const none = await sysctr(['containers', 'update']);
    t.equal(none.exitCode, 2);
    const missing = await sysctr(['containers', 'update', 'nosuch']);
    t.equal(missing.exitCode, 1);
    t.match(missing.stderr, /nosuch is not installed/);
    t.equal((await sysctr(['uninstall', 'web2'])).exitCode, 0);
  });

  t.test('update --pull: pulls the source again first', async (t) => {
    const r = await sysctr(['containers', 'update', '--pull', 'web']);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, new RegExp(`pulling oci:${layout}:v2`));
    t.match(r.stdout, /already up to date/);
  });

  t.test('an update to a unit wanted by another target enables it from its new [Install]; rollback, and a disabled unit stays so', async (t) => {
    const wants = async () => (await m.sh('cd /etc/systemd/system && ls -d */web.service 2>/dev/null')).stdout.trim().split('\n').filter(Boolean);
    const enabled = async () => (await m.exec(['systemctl', 'is-enabled', 'web.service'])).stdout.trim();
    t.same(await wants(), ['multi-user.target.wants/web.service'], 'before: enabled for multi-user.target');
    const up = await sysctr(['containers', 'update', '--rebase', 'layout:v5', 'web']);
    t.equal(up.exitCode, 0, up.stderr);
    t.same(await wants(), ['basic.target.wants/web.service'], 'after the update: wanted by basic.target only');
    t.equal(await enabled(), 'enabled');
    t.equal(await active(), 'active');
    const rb = await sysctr(['containers', 'rollback', 'web']);
    t.equal(rb.exitCode, 0, rb.stderr);
    t.same(await wants(), ['multi-user.target.wants/web.service'], 'after the rollback: multi-user.target again');
    t.equal(await enabled(), 'enabled');
    // someone disabled it: neither update nor rollback enables it again
    t.equal((await m.exec(['systemctl', 'disable', 'web.service'])).exitCode, 0);
    const up2 = await sysctr(['containers', 'rollback', 'web']);
    t.equal(up2.exitCode, 0, up2.stderr);
    t.same(await wants(), [], 'still disabled after switching to the v5 unit');
    t.equal(await enabled(), 'disabled');
    t.equal(await active(), 'active', 'and still running');
    t.equal((await sysctr(['containers', 'rollback', 'web'])).exitCode, 0);
    t.equal(await enabled(), 'disabled');
    t.equal((await m.exec(['systemctl', 'enable', 'web.service'])).exitCode, 0);
    // killed with the new unit written but its links not yet moved: the next command finishes the
    // update, links included
    const killed = await m.sysctr(['containers', 'update', '--rebase', 'layout:v5', 'web'], { ...env, SYSCTR_FAULT_STEP: 'update:unit-files' });
    t.not(killed.exitCode, 0, 'killed after update:unit-files');
    t.same(await wants(), ['multi-user.target.wants/web.service'], 'the links are still the old ones');
    const next = await sysctr(['containers', 'update', 'web']);
    t.equal(next.exitCode, 0, next.stderr);
    t.same(await wants(), ['basic.target.wants/web.service'], 'finished: wanted by basic.target only');
    t.equal(await enabled(), 'enabled');
    t.equal((await sysctr(['containers', 'rollback', 'web'])).exitCode, 0);
    t.same(await wants(), ['multi-user.target.wants/web.service']);
  });

  t.test('uninstall removes both deployments', async (t) => {
    t.equal((await sysctr(['uninstall', 'web'])).exitCode, 0);
    t.equal((await m.sh(`ls -d ${root}/web* ${root}/.web* 2>/dev/null; runc list -q`)).stdout.trim(), '');
  });
}

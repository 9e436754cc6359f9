/**
 * End to end, inside a systemd booted with systemd-nspawn, with real runc: pull the example image,
 * install it with --set, start, ask the service over HTTP, list, stop, install again, uninstall.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { projectDir } from './helpers/cli.js';
import { Machine, buildImage, requireRealSystemd } from './helpers/nspawn.js';

if (requireRealSystemd(t)) {
  const m = await Machine.boot();
  t.teardown(() => m.shutdown());
  const layout = path.join(m.scratch, 'layout');
  await buildImage(path.join(projectDir, 'fixtures/images/example'), layout, 'v1');
  // a second image (other id) for the "installed from another image" case
  const other = path.join(m.scratch, 'other');
  fs.cpSync(path.join(projectDir, 'fixtures/images/example'), other, { recursive: true });
  fs.writeFileSync(path.join(other, 'rootfs/usr/bin/marker'), 'v2\n');
  await buildImage(other, layout, 'v2');
  const env = { SYSCTR_ROOT: '/var/lib/sysctr-e2e' };
  const sysctr = (args: string[]) => m.sysctr(args, env);
  const unit = '/etc/systemd/system/web.service';

  t.test('install --now: enabled, running, answering with the --set value', async (t) => {
    const pull = await sysctr(['pull', `oci:${layout}:v1`]);
    t.equal(pull.exitCode, 0, pull.stderr);
    const r = await sysctr(['install', '--name', 'web', '--set', 'PORT=8181', '--set', 'MESSAGE=hello-from-e2e', '--set', 'SYSCTR_STOP_TIMEOUT=2', '--now', 'layout:v1']);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, /installed web/);
    t.equal((await m.exec(['systemctl', 'is-enabled', 'web.service'])).stdout.trim(), 'enabled');
    t.equal((await m.exec(['systemctl', 'is-active', 'web.service'])).stdout.trim(), 'active');
    // the service answers on its port with the value from --set (the page is written into the
    // tmpfiles-created dir, bind-mounted at /srv/www)
    let page = '';
    for (let i = 0; i < 40 && !page.includes('hello'); i++) {
      page = (await m.exec(['busybox', 'wget', '-qO-', 'http://127.0.0.1:8181/'])).stdout;
      if (!page.includes('hello')) await new Promise((res) => setTimeout(res, 250));
    }
    t.equal(page.trim(), 'hello-from-e2e');
    const info = (await m.exec(['busybox', 'wget', '-qO-', 'http://127.0.0.1:8181/info.txt'])).stdout;
    t.match(info, /name=web uuid=[0-9a-f-]{36} literal=\$NAME/, '$NAME, ${UUID} substituted; $$NAME stays a literal $NAME');
    const runcList = await m.exec(['runc', 'list', '-q']);
    t.match(runcList.stdout, /^web$/m);
    // files: unit with sysctr's header, drop-in, tmpfiles conf, deployment, link, info
    const files = await m.sh(`head -1 ${unit}; ls /etc/systemd/system/web.service.d; cat /etc/tmpfiles.d/web.conf; readlink /var/lib/sysctr-e2e/web; ls /var/lib/sysctr-e2e/web.0; test -d /run/web && echo rundir`);
    t.match(files.stdout, /^# Managed by sysctr/);
    t.match(files.stdout, /sysctr\.conf/);
    t.match(files.stdout, /^d \/run\/web 0755/m);
    t.match(files.stdout, /^web\.0$/m);
    t.match(files.stdout, /config\.json[\s\S]*info[\s\S]*rootfs/);
    t.match(files.stdout, /rundir/);
    const cfg = JSON.parse((await m.exec(['cat', '/var/lib/sysctr-e2e/web.0/config.json'])).stdout);
    t.equal(cfg.root.readonly, true);
    t.ok(cfg.process.capabilities.bounding.includes('CAP_SYS_ADMIN'), '[${ALL_PROCESS_CAPABILITIES}] rendered into a JSON array');
    const infoJson = JSON.parse((await m.exec(['cat', '/var/lib/sysctr-e2e/web.0/info'])).stdout);
    t.same(infoJson.set, { PORT: '8181', MESSAGE: 'hello-from-e2e', SYSCTR_STOP_TIMEOUT: '2' });
    t.equal(infoJson.image, 'localhost/layout:v1');
    const verify = await m.exec(['systemd-analyze', 'verify', unit]);
    t.equal(verify.exitCode, 0, `systemd-analyze verify: ${verify.stderr}`);
  });

  t.test('containers list shows it running, from systemd', async (t) => {
    const r = await sysctr(['containers', 'list', '--json']);
    t.equal(r.exitCode, 0, r.stderr);
    const rows = JSON.parse(r.stdout);
    t.equal(rows.length, 1);
    t.match(rows[0], { name: 'web', image: 'localhost/layout:v1', state: 'running', command: '/usr/bin/run.sh', deployment: 'web.0' });
    const table = await sysctr(['containers', 'list']);
    t.match(table.stdout, /^NAME\s+IMAGE[\s\S]*\nweb\s+localhost\/layout:v1/);
    t.equal((await sysctr(['containers', 'list', '-q'])).stdout.trim(), 'web');
    const full = await sysctr(['containers', 'list', '--no-trunc']);
    t.match(full.stdout, new RegExp(rows[0].imageId), '--no-trunc shows the whole image id');
    t.notMatch(table.stdout, new RegExp(rows[0].imageId), 'shortened by default');
    t.equal((await sysctr(['containers', 'list', '-q', '-f', 'state=failed'])).stdout.trim(), '');
  });

  t.test('run: exec in the running container', async (t) => {
    const r = await sysctr(['run', 'web', '--', 'cat', '/srv/www/index.html']);
    t.equal(r.exitCode, 0, r.stderr);
    t.equal(r.stdout.trim(), 'hello-from-e2e');
  });

  t.test('installing again: same image is fine, another image points at containers update', async (t) => {
    const same = await sysctr(['install', '--name', 'web', 'layout:v1']);
    t.equal(same.exitCode, 0, same.stderr);
    t.match(same.stdout, /already installed/);
    await sysctr(['pull', `oci:${layout}:v2`]);
    const before = (await m.exec(['cat', unit])).stdout;
    const otherImg = await sysctr(['install', '--name', 'web', 'layout:v2']);
    t.equal(otherImg.exitCode, 1);
    t.match(otherImg.stderr, /already installed from another image/);
    t.match(otherImg.stderr, /containers update/);
    t.equal((await m.exec(['cat', unit])).stdout, before, 'unit untouched');
  });

  t.test('stop: inactive (not failed) and no runc container left, though httpd ignores SIGTERM', async (t) => {
    const start = Date.now();
    const r = await sysctr(['stop', 'web']);
    const took = Date.now() - start;
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, /web: inactive/);
    const show = await m.exec(['systemctl', 'show', '-p', 'ActiveState,Result', 'web.service']);
    t.match(show.stdout, /ActiveState=inactive/);
    t.match(show.stdout, /Result=success/);
    t.equal((await m.exec(['runc', 'list', '-q'])).stdout.trim(), '');
    t.ok(took < 10_000, `stopped within the grace period (${took} ms)`);
    const list = await sysctr(['containers', 'list', '--all', '--json']);
    t.equal(JSON.parse(list.stdout)[0].state, 'inactive');
  });

  t.test('run: a one-off container when the service is not running', async (t) => {
    const r = await sysctr(['run', 'web', '--', 'cat', '/exports/manifest.json']);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, /defaultValues/);
    t.equal((await m.exec(['runc', 'list', '-q'])).stdout.trim(), '', 'the one-off container is gone');
  });

  t.test('start again, then uninstall leaves nothing behind; uninstall again is fine', async (t) => {
    t.equal((await sysctr(['start', 'web'])).exitCode, 0);
    const r = await sysctr(['uninstall', 'web']);
    t.equal(r.exitCode, 0, r.stderr);
    const left = await m.sh('ls -d /etc/systemd/system/web.service /etc/systemd/system/web.service.d /etc/tmpfiles.d/web.conf /var/lib/sysctr-e2e/web /var/lib/sysctr-e2e/web.0 /var/lib/sysctr-e2e/.web.journal /etc/systemd/system/multi-user.target.wants/web.service 2>/dev/null; runc list -q');
    t.equal(left.stdout.trim(), '', 'no unit, drop-in, tmpfiles conf, symlink, deployment, journal, enablement or container');
    t.match((await m.exec(['systemctl', 'show', '-p', 'LoadState', 'web.service'])).stdout, /LoadState=not-found/);
    const again = await sysctr(['uninstall', 'web']);
    t.equal(again.exitCode, 0);
    t.match(again.stdout, /not installed/);
  });

  const leftovers = (name: string) =>
    m.sh(`ls -d /etc/systemd/system/${name}.service /etc/systemd/system/${name}.service.d /etc/tmpfiles.d/${name}.conf /var/lib/sysctr-e2e/${name} /var/lib/sysctr-e2e/${name}.0 /var/lib/sysctr-e2e/.${name}* /etc/systemd/system/multi-user.target.wants/${name}.service 2>/dev/null; runc list -q | grep -x ${name}`);

  // SYSCTR_FAULT_STEP kills sysctr right after a step; the next command finishes the job
  for (const step of ['checkout', 'unit-files', 'symlink', 'enable']) {
    t.test(`killed after install:${step}: install again finishes it, uninstall leaves nothing`, async (t) => {
      const name = `crash-${step}`;
      const args = ['install', '--name', name, '--set', 'PORT=8282', '--set', 'SYSCTR_STOP_TIMEOUT=1', '--now', 'layout:v1'];
      const killed = await m.sysctr(args, { ...env, SYSCTR_FAULT_STEP: `install:${step}` });
      t.not(killed.exitCode, 0, 'killed');
      t.match(killed.stderr, new RegExp(`killing myself after install:${step}`));
      const again = await sysctr(args);
      t.equal(again.exitCode, 0, again.stderr);
      t.match(again.stdout, /finishing a half-done install/);
      t.equal((await m.exec(['systemctl', 'is-active', `${name}.service`])).stdout.trim(), 'active');
      t.equal((await sysctr(['uninstall', name])).exitCode, 0);
      t.equal((await leftovers(name)).stdout.trim(), '', 'nothing left');
    });
  }
  for (const step of ['disable', 'unit-files', 'symlink']) {
    t.test(`killed after uninstall:${step}: uninstall again finishes it`, async (t) => {
      const name = `unc-${step}`;
      t.equal((await sysctr(['install', '--name', name, '--set', 'PORT=8283', '--set', 'SYSCTR_STOP_TIMEOUT=1', '--now', 'layout:v1'])).exitCode, 0);
      const killed = await m.sysctr(['uninstall', name], { ...env, SYSCTR_FAULT_STEP: `uninstall:${step}` });
      t.not(killed.exitCode, 0, 'killed');
      const again = await sysctr(['uninstall', name]);
      t.equal(again.exitCode, 0, again.stderr);
      t.equal((await leftovers(name)).stdout.trim(), '', 'nothing left');
    });
  }

  t.test('--rootfs DIR: runs an existing root filesystem (its /exports), not a checkout', async (t) => {
    t.equal((await sysctr(['checkout', 'layout:v1', '/var/lib/rootfs-web'])).exitCode, 0);
    const r = await sysctr(['install', '--name', 'fromdir', '--rootfs', '/var/lib/rootfs-web', '--set', 'PORT=8290', '--set', 'MESSAGE=from-rootfs', '--set', 'SYSCTR_STOP_TIMEOUT=1', '--now', 'layout:v1']);
    t.equal(r.exitCode, 0, r.stderr);
    let page = '';
    for (let i = 0; i < 40 && !page; i++) {
      page = (await m.exec(['busybox', 'wget', '-qO-', 'http://127.0.0.1:8290/'])).stdout.trim();
      if (!page) await new Promise((res) => setTimeout(res, 250));
    }
    t.equal(page, 'from-rootfs');
    const cfg = JSON.parse((await m.exec(['cat', '/var/lib/sysctr-e2e/fromdir.0/config.json'])).stdout);
    t.equal(cfg.root.path, '/var/lib/rootfs-web');
    t.equal(cfg.root.readonly, true);
    t.equal((await m.exec(['test', '-e', '/var/lib/sysctr-e2e/fromdir.0/rootfs'])).exitCode, 1, 'no checkout');
    t.equal((await sysctr(['uninstall', 'fromdir'])).exitCode, 0);
    t.equal((await m.exec(['test', '-x', '/var/lib/rootfs-web/bin/busybox'])).exitCode, 0, 'uninstall leaves the given rootfs alone');
  });

  t.test('two installs of the same name at once: one installs, the other finds it installed', async (t) => {
    const args = ['install', '--name', 'twin', '--set', 'PORT=8291', '--set', 'SYSCTR_STOP_TIMEOUT=1', 'layout:v1'];
    const [a, b] = await Promise.all([sysctr(args), sysctr(args)]);
    t.same([a.exitCode, b.exitCode], [0, 0], a.stderr + b.stderr);
    const outs = [a.stdout, b.stdout].join('\n');
    t.match(outs, /installed twin from/);
    t.match(outs, /twin is already installed/);
    t.equal((await m.sh('ls -d /var/lib/sysctr-e2e/twin* /var/lib/sysctr-e2e/.twin* 2>/dev/null')).stdout.trim().split('\n').sort().join(' '), '/var/lib/sysctr-e2e/twin /var/lib/sysctr-e2e/twin.0');
    t.equal((await sysctr(['uninstall', 'twin'])).exitCode, 0);
  });
}

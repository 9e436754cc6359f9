/**
 * End to end, inside a systemd booted with systemd-nspawn, with real runc: pull the example image,
 * install it with --set, start, ask the service over HTTP, list, stop, install again, uninstall.
 * Beside it a second machine whose bounding set lacks CAP_SYS_RESOURCE and CAP_SYS_TIME, as some
 * hosts' does (docs/runtime.md): the core path again there, and on both machines images that ask
 * for every capability or name those two literally.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { projectDir } from '../helpers/cli.js';
import { Machine, requireRealSystemd } from '../helpers/nspawn.js';
import { buildImageWithUmoci } from '../helpers/images.js';
import { CAPABILITY_NAMES } from '../../lib/runtime/capabilities.js';
import { LITERAL_CAPS, buildCapsImages, containerCaps, missingFromPid1, page } from '../helpers/caps.js';

const DROPPED = ['CAP_SYS_RESOURCE', 'CAP_SYS_TIME'];

if (requireRealSystemd(t)) {
  const [m, reduced] = await Promise.all([Machine.boot(), Machine.boot({ dropCapabilities: DROPPED })]);
  t.teardown(() => Promise.all([m.shutdown(), reduced.shutdown()]));
  const layout = path.join(m.scratch, 'layout');
  await buildImageWithUmoci(path.join(projectDir, 'fixtures/images/example'), layout, 'v1');
  // a second image (other id) for the "installed from another image" case
  const other = path.join(m.scratch, 'other');
  fs.cpSync(path.join(projectDir, 'fixtures/images/example'), other, { recursive: true });
  fs.writeFileSync(path.join(other, 'rootfs/usr/bin/marker'), 'v2\n');
  await buildImageWithUmoci(other, layout, 'v2');
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

  // ---- capabilities: what the machine's PID 1 cannot hold is left out, with a warning ----------
  await buildCapsImages(m.scratch, layout);
  const reducedLayout = path.join(reduced.scratch, 'layout');
  fs.cpSync(layout, reducedLayout, { recursive: true });
  const kernelOrder = (caps: string[]) => [...caps].sort((a, b) => CAPABILITY_NAMES.indexOf(a) - CAPABILITY_NAMES.indexOf(b));

  t.test('reduced machine: its PID 1 lacks CAP_SYS_RESOURCE and CAP_SYS_TIME', async (t) => {
    const missing = await missingFromPid1(reduced);
    for (const c of DROPPED) t.ok(missing.includes(c), `${c} missing from /proc/1/status CapBnd`);
    t.comment(`the full machine's PID 1 lacks: ${(await missingFromPid1(m)).join(', ') || 'nothing'} (what this host lacks)`);
  });

  t.test('reduced machine: install --now, answer, stop, start, uninstall (the core path)', async (t) => {
    const rs = (args: string[]) => reduced.sysctr(args, env);
    t.equal((await rs(['pull', `oci:${reducedLayout}:v1`])).exitCode, 0);
    const r = await rs(['install', '--name', 'cap-web', '--set', 'PORT=8181', '--set', 'MESSAGE=hello-reduced', '--set', 'SYSCTR_STOP_TIMEOUT=2', '--now', 'layout:v1']);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stderr, /sysctr: warning: ALL_PROCESS_CAPABILITIES leaves out CAP_SYS_RESOURCE, CAP_SYS_TIME: the bounding set of PID 1, the system manager that runs the unit, lacks them/);
    t.equal((await reduced.exec(['systemctl', 'is-active', 'cap-web.service'])).stdout.trim(), 'active');
    t.equal(await page(reduced, 8181), 'hello-reduced');
    const caps = await containerCaps(reduced, 'cap-web');
    for (const c of DROPPED) t.notOk(caps.bounding.includes(c), `the container's CapBnd lacks ${c}`);
    t.ok(caps.bounding.includes('CAP_SYS_ADMIN'), 'and holds the rest');
    const stop = await rs(['stop', 'cap-web']);
    t.equal(stop.exitCode, 0, stop.stderr);
    const show = (await reduced.exec(['systemctl', 'show', '-p', 'ActiveState,Result', 'cap-web.service'])).stdout;
    t.match(show, /ActiveState=inactive/);
    t.match(show, /Result=success/);
    t.equal((await reduced.exec(['runc', 'list', '-q'])).stdout.trim(), '');
    t.equal((await rs(['start', 'cap-web'])).exitCode, 0);
    t.equal(await page(reduced, 8181), 'hello-reduced', 'answers again');
    t.equal((await rs(['uninstall', 'cap-web'])).exitCode, 0);
    const left = await reduced.sh('ls -d /etc/systemd/system/cap-web.service* /etc/tmpfiles.d/cap-web.conf /var/lib/sysctr-e2e/cap-web* 2>/dev/null; runc list -q');
    t.equal(left.stdout.trim(), '', 'nothing left');
  });

  for (const [label, mach, lay] of [['full', m, layout], ['reduced', reduced, reducedLayout]] as const) {
    t.test(`${label} machine: images asking for every capability, and for CAP_SYS_RESOURCE and CAP_SYS_TIME by name, start and answer`, async (t) => {
      const missing = await missingFromPid1(mach);
      const kernel = CAPABILITY_NAMES.slice(0, Number((await mach.exec(['cat', '/proc/sys/kernel/cap_last_cap'])).stdout.trim()) + 1);
      const ms = (args: string[]) => mach.sysctr(args, env);
      for (const [tag, name, port, asked] of [['caps-all', 'cap-all', 8301, kernel], ['caps-lit', 'cap-lit', 8302, LITERAL_CAPS]] as const) {
        t.equal((await ms(['pull', `oci:${lay}:${tag}`])).exitCode, 0);
        const r = await ms(['install', '--name', name, '--set', `PORT=${port}`, '--set', `MESSAGE=${name}-${label}`, '--set', 'SYSCTR_STOP_TIMEOUT=1', '--now', `layout:${tag}`]);
        t.equal(r.exitCode, 0, r.stderr);
        t.equal(await page(mach, port), `${name}-${label}`, `${name} answers`);
        const dropped = kernelOrder(asked.filter((c) => missing.includes(c)));
        if (label === 'reduced') t.same(dropped.filter((c) => DROPPED.includes(c)), DROPPED, 'both are left out here');
        if (!dropped.length) t.notMatch(r.stderr, /warning/, `${name}: no warning`);
        else if (tag === 'caps-all') t.match(r.stderr, `sysctr: warning: ALL_PROCESS_CAPABILITIES leaves out ${dropped.join(', ')}: the bounding set of PID 1`);
        else t.match(r.stderr, `sysctr: warning: config.json asks for ${dropped.join(', ')} (process.capabilities bounding, effective, permitted), but the bounding set of PID 1`);
        const cfg = JSON.parse((await mach.exec(['cat', `/var/lib/sysctr-e2e/${name}.0/config.json`])).stdout);
        const granted = kernelOrder(asked.filter((c) => !missing.includes(c)));
        t.same(kernelOrder(cfg.process.capabilities.effective), granted, `${name}: config.json grants what PID 1 holds`);
        const caps = await containerCaps(mach, name);
        t.same(caps.bounding, granted, `${name}: the container's CapBnd`);
        t.same(caps.effective, granted, `${name}: the container's CapEff`);
        for (const c of DROPPED) t.equal(caps.effective.includes(c), !missing.includes(c), `${name}: ${c} ${missing.includes(c) ? 'absent' : 'present'}`);
      }
      if (label === 'reduced') {
        // render, install --dry-run and containers update --dry-run say the same before anything changes
        const render = await ms(['render', 'layout:caps-lit']);
        t.equal(render.exitCode, 0, render.stderr);
        t.match(render.stderr, 'sysctr: warning: config.json asks for CAP_SYS_RESOURCE, CAP_SYS_TIME');
        t.notMatch(render.stdout, /CAP_SYS_RESOURCE|CAP_SYS_TIME/);
        const dry = await ms(['install', '--dry-run', '--name', 'cap-dry', 'layout:caps-lit']);
        t.equal(dry.exitCode, 0, dry.stderr);
        t.match(dry.stderr, 'sysctr: warning: config.json asks for CAP_SYS_RESOURCE, CAP_SYS_TIME');
        const upd = await ms(['containers', 'update', '--dry-run', '--set', 'MESSAGE=other', 'cap-lit']);
        t.equal(upd.exitCode, 0, upd.stderr);
        t.match(upd.stderr, 'sysctr: warning: cap-lit: config.json asks for CAP_SYS_RESOURCE, CAP_SYS_TIME');
        // what sysctr spares the service: runc asked for CAP_SYS_RESOURCE here refuses to start
        const probe = await mach.sh(
          'mkdir -p /tmp/cap-probe && cd /tmp/cap-probe && ' +
            `python3 -c 'import json; c=json.load(open("/var/lib/sysctr-e2e/cap-lit.0/config.json")); c["root"]["path"]="/var/lib/sysctr-e2e/cap-lit.0/rootfs"; c["process"]["args"]=["/bin/true"]; c["process"]["capabilities"]["effective"].append("CAP_SYS_RESOURCE"); c["process"]["capabilities"]["permitted"].append("CAP_SYS_RESOURCE"); c["mounts"]=[x for x in c["mounts"] if x["type"]!="bind"]; json.dump(c, open("config.json","w"))' && ` +
            'runc run cap-probe; echo rc=$?; runc delete -f cap-probe 2>/dev/null',
        );
        t.match(probe.stderr, 'unable to apply caps: operation not permitted', 'runc refuses it on this machine');
        t.match(probe.stdout, /^rc=1$/m);
        // a real update renders for this machine too: warned, written without them, answering
        const real = await ms(['containers', 'update', '--set', 'MESSAGE=updated-reduced', 'cap-lit']);
        t.equal(real.exitCode, 0, real.stderr);
        t.match(real.stderr, 'sysctr: warning: cap-lit: config.json asks for CAP_SYS_RESOURCE, CAP_SYS_TIME');
        t.equal(await page(mach, 8302, 'updated-reduced'), 'updated-reduced', 'the updated service answers');
        const after = await containerCaps(mach, 'cap-lit');
        for (const c of DROPPED) t.notOk(after.effective.includes(c), `updated: the container's CapEff lacks ${c}`);
      }
      for (const name of ['cap-all', 'cap-lit']) t.equal((await ms(['uninstall', name])).exitCode, 0);
    });
  }
}

/**
 * sysctr auto-update end to end, in a systemd booted with systemd-nspawn, with real runc and a
 * docker-registry running inside the machine (its access log in a file, to count blob requests):
 * install --auto-update=registry --now from the registry, a new version pushed under the same tag
 * and auto-update → updated and answering with it; again → up-to-date with no blob fetched; the
 * timer's own service run by systemd; a version that cannot start → rolled-back, the old one
 * answers; the timer verified by systemd-analyze, and removed with the last container.
 */
import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { projectDir } from '../helpers/cli.js';
import { Machine, requireRealSystemd } from '../helpers/nspawn.js';
import { buildImageWithUmoci } from '../helpers/images.js';
import { requirePrereqs } from '../helpers/prereq.js';

if (requireRealSystemd(t) && requirePrereqs(t, ['docker-registry', 'skopeo', 'umoci'])) {
  const m = await Machine.boot();
  t.teardown(() => m.shutdown());
  const layout = path.join(m.scratch, 'layout');
  for (const v of ['v1', 'v2', 'v3']) await buildImageWithUmoci(path.join(projectDir, `fixtures/images/update-${v}`), layout, v);
  const REG = '127.0.0.1:5141';
  const ref = `${REG}/au/web:1`;
  const PORT = 8341;
  const root = '/var/lib/sysctr-e2e-au';
  const env = { SYSCTR_ROOT: root };
  const sysctr = (args: string[]) => m.sysctr(args, env);
  const regLog = path.join(m.scratch, 'registry.log');

  // the registry in the machine (it has a loopback of its own), its access log in a file
  fs.writeFileSync(path.join(m.scratch, 'registry.yml'), ['version: 0.1', 'log:', '  level: error', 'storage:', '  filesystem:', `    rootdirectory: ${m.scratch}/registry`, 'http:', `  addr: ${REG}`, ''].join('\n'));

  const push = async (t: Test, tag: string) => {
    let r;
    for (let i = 0; i < 40; i++) {
      r = await m.exec(['skopeo', 'copy', '--quiet', '--insecure-policy', '--dest-tls-verify=false', '--format', 'v2s2', `oci:${layout}:${tag}`, `docker://${ref}`]);
      if (r.exitCode === 0 || !/connect|refused/i.test(r.stderr)) break;
      await new Promise((res) => setTimeout(res, 250)); // the registry may still be starting
    }
    t.equal(r!.exitCode, 0, `push ${tag} as ${ref}: ${r!.stderr}`);
  };
  /** GET a path; polls until `want` matches (the service may still be coming up). */
  const get = async (file: string, want: RegExp): Promise<string> => {
    let body = '';
    for (let i = 0; i < 60; i++) {
      const r = await m.exec(['busybox', 'wget', '-qO-', `http://127.0.0.1:${PORT}/${file}`]);
      body = r.exitCode === 0 ? r.stdout : '';
      if (want.test(body)) break;
      await new Promise((res) => setTimeout(res, 150));
    }
    return body.trim();
  };
  const blobGets = () => (fs.existsSync(regLog) ? fs.readFileSync(regLog, 'utf8') : '').split('\n').filter((l) => /"GET \/v2\/au\/web\/blobs\//.test(l)).length;
  const manifestGets = () => (fs.existsSync(regLog) ? fs.readFileSync(regLog, 'utf8') : '').split('\n').filter((l) => /"(GET|HEAD) \/v2\/au\/web\/manifests\//.test(l)).length;
  const autoUpdate = async (t: Test, exitCode: number) => {
    const r = await sysctr(['auto-update', '--json']);
    t.equal(r.exitCode, exitCode, `auto-update: exit ${exitCode} (${r.stderr.trim()})`);
    return JSON.parse(r.stdout) as { changed: boolean; containers: Array<Record<string, unknown>> };
  };
  const digestOf = async (t: Test, tag: string) => {
    const r = await m.exec(['skopeo', 'inspect', '--insecure-policy', '--tls-verify=false', '--format', '{{.Digest}}', `docker://${ref}`]);
    t.equal(r.exitCode, 0, `skopeo inspect after pushing ${tag}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const unitDir = '/etc/systemd/system';

  t.test('install --auto-update=registry --now from the registry: serves v1, the timer is on', async (t) => {
    const started = await m.exec(['systemd-run', '--unit=au-e2e-registry', `-pStandardOutput=append:${regLog}`, `-pStandardError=append:${regLog}`, '/usr/bin/docker-registry', 'serve', path.join(m.scratch, 'registry.yml')]);
    t.equal(started.exitCode, 0, `registry in the machine: ${started.stderr}`);
    // plain HTTP to it, for every sysctr run, the timer's included: registries.conf, as podman reads it
    await m.sh(`mkdir -p /etc/containers && printf '[[registry]]\\nlocation = "${REG}"\\ninsecure = true\\n' > /etc/containers/registries.conf`);
    await push(t, 'v1');
    const r = await sysctr(['install', '--auto-update=registry', '--name', 'au-web', '--set', `PORT=${PORT}`, '--now', `docker://${ref}`]);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(await get('version.txt', /v1/), /^v1$/);
    for (const f of ['sysctr-auto-update.timer', 'sysctr-auto-update.service']) {
      const v = await m.exec(['systemd-analyze', 'verify', `${unitDir}/${f}`]);
      t.equal(v.exitCode, 0, `systemd-analyze verify ${f}`);
      t.equal((v.stderr + v.stdout).trim(), '', `${f}: no diagnostics`);
    }
    t.equal((await m.exec(['systemctl', 'is-enabled', 'sysctr-auto-update.timer'])).stdout.trim(), 'enabled');
    t.equal((await m.exec(['systemctl', 'is-active', 'sysctr-auto-update.timer'])).stdout.trim(), 'active');
    const next = (await m.exec(['systemctl', 'show', '-p', 'TimersCalendar', 'sysctr-auto-update.timer'])).stdout;
    t.match(next, /OnCalendar=\*-\*-\* 00:00:00/, 'daily');
    const row = JSON.parse((await sysctr(['containers', 'list', '--json'])).stdout).find((x: { name: string }) => x.name === 'au-web');
    t.equal(row?.autoUpdate, 'registry', 'containers list --json shows the policy');
  });

  let v2 = '';
  t.test('v2 pushed under the same tag: auto-update updates, the service answers v2', async (t) => {
    const before = (await m.exec(['readlink', `${root}/au-web`])).stdout.trim();
    await push(t, 'v2');
    v2 = await digestOf(t, 'v2');
    const blobs = blobGets();
    const r = await autoUpdate(t, 0);
    t.ok(blobGets() > blobs, `the pull of v2 fetched blobs (${blobGets() - blobs} GETs in the registry's log): the log is read right`);
    t.equal(r.changed, true);
    t.match(r.containers, [{ name: 'au-web', status: 'updated', changed: true, newDigest: v2, from: before }]);
    t.not(r.containers[0].oldDigest, v2, 'old and new digests differ');
    t.match(await get('version.txt', /v2/), /^v2$/);
  });

  t.test('the policy is the container\'s: changed alone, and kept across rollback', async (t) => {
    const info = async () => JSON.parse((await m.exec(['cat', `${root}/au-web/info`])).stdout) as { autoUpdate?: string; image: string };
    const set = await sysctr(['containers', 'update', '--auto-update=local', '--json', 'au-web']);
    t.equal(set.exitCode, 0, set.stderr);
    t.match(JSON.parse(set.stdout), { changed: true, status: 'up-to-date', policyChanged: true, autoUpdate: 'local' });
    t.equal((await info()).autoUpdate, 'local');
    const back = await sysctr(['containers', 'rollback', 'au-web']);
    t.equal(back.exitCode, 0, back.stderr);
    t.match(await get('version.txt', /v1/), /^v1$/, 'v1 again');
    t.equal((await info()).autoUpdate, 'local', 'the rolled-back-to deployment has the policy in force');
    t.equal((await sysctr(['containers', 'rollback', 'au-web'])).exitCode, 0);
    t.match(await get('version.txt', /v2/), /^v2$/, 'v2 again');
    t.equal((await info()).autoUpdate, 'local', 'and back: still local');
    const reg = await sysctr(['containers', 'update', '--auto-update=registry', 'au-web']);
    t.equal(reg.exitCode, 0, reg.stderr);
    t.match(reg.stdout, 'au-web: auto-update policy set to registry', 'the image and values unchanged: only the policy');
    t.equal((await info()).autoUpdate, 'registry');
  });

  t.test('again: up-to-date, a manifest request and no blob', async (t) => {
    const blobs = blobGets();
    const manifests = manifestGets();
    const r = await autoUpdate(t, 0);
    t.equal(r.changed, false);
    t.match(r.containers, [{ name: 'au-web', status: 'up-to-date', changed: false, oldDigest: v2, newDigest: v2 }]);
    t.equal(blobGets(), blobs, 'the registry served no blob');
    t.ok(manifestGets() > manifests, 'it was asked for the manifest');
  });

  t.test("the timer's service, run by systemd: succeeds, nothing to do", async (t) => {
    const blobs = blobGets();
    const r = await m.exec(['systemctl', 'start', 'sysctr-auto-update.service']);
    t.equal(r.exitCode, 0, `systemctl start sysctr-auto-update.service: ${r.stderr}`);
    const show = (await m.exec(['systemctl', 'show', '-p', 'Result,ExecMainStatus', 'sysctr-auto-update.service'])).stdout;
    t.match(show, /Result=success/);
    t.match(show, /ExecMainStatus=0/);
    const log = (await m.exec(['journalctl', '-u', 'sysctr-auto-update.service', '-o', 'cat', '--no-pager'])).stdout;
    t.match(log, 'au-web: up-to-date', 'it ran sysctr auto-update on the same state root');
    t.equal(blobGets(), blobs, 'no blob');
  });

  t.test('v3 (exits at once) pushed: rolled-back, v2 answers, exit 1', async (t) => {
    await push(t, 'v3');
    const v3 = await digestOf(t, 'v3');
    const r = await autoUpdate(t, 1);
    t.match(r.containers, [{ name: 'au-web', status: 'rolled-back', changed: true, oldDigest: v2, newDigest: v3 }]);
    t.match(r.containers[0].reason, /./, 'with the reason');
    t.match(await get('version.txt', /v2/), /^v2$/);
    t.equal((await m.exec(['systemctl', 'is-active', 'au-web.service'])).stdout.trim(), 'active');
  });

  t.test('uninstall, the last container with a policy: the timer goes', async (t) => {
    const r = await sysctr(['uninstall', 'au-web']);
    t.equal(r.exitCode, 0, r.stderr);
    for (const f of ['sysctr-auto-update.timer', 'sysctr-auto-update.service']) t.equal((await m.exec(['test', '-e', `${unitDir}/${f}`])).exitCode, 1, `${f} removed`);
    t.not((await m.exec(['systemctl', 'is-active', 'sysctr-auto-update.timer'])).stdout.trim(), 'active', 'timer stopped');
    t.match((await m.exec(['systemctl', 'is-enabled', 'sysctr-auto-update.timer'])).stdout + (await m.exec(['systemctl', 'is-enabled', 'sysctr-auto-update.timer'])).stderr, /not-found|No such file|disabled/, 'and gone');
    const again = await sysctr(['auto-update', '--json']);
    t.equal(again.exitCode, 0);
    t.same(JSON.parse(again.stdout), { changed: false, containers: [] });
  });

  t.test('--install-timer and --remove-timer by hand', async (t) => {
    const i = await sysctr(['auto-update', '--install-timer', '--json']);
    t.equal(i.exitCode, 0, i.stderr);
    t.match(JSON.parse(i.stdout), { changed: true });
    t.equal((await m.exec(['systemctl', 'is-active', 'sysctr-auto-update.timer'])).stdout.trim(), 'active');
    const again = await sysctr(['auto-update', '--install-timer', '--json']);
    t.match(JSON.parse(again.stdout), { changed: false }, 'twice is a no-op');
    const rm = await sysctr(['auto-update', '--remove-timer', '--json']);
    t.match(JSON.parse(rm.stdout), { changed: true });
    t.equal((await m.exec(['test', '-e', `${unitDir}/sysctr-auto-update.timer`])).exitCode, 1);
  });
}

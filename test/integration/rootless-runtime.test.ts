/**
 * A plain user's config.json against real runc, no systemd: a throw-away user (useradd gives
 * them subordinate ranges; userdel takes them away) renders the example image with
 * `sysctr render --user`, and runs the bundle with rootless runc as themselves. The container
 * answers on its port, its process is the user's uid on the host, a file the host gives to
 * the subordinate range's 999th id is uid 1000 inside, and the stop script (runc with --root in
 * one word) ends it. Then the refusals a user meets, each naming what is missing.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { spawnSync } from 'node:child_process';
import { requirePrereqs } from '../helpers/prereq.js';
import { projectDir, sysctrBin } from '../helpers/cli.js';
import { stopScriptForShell } from '../../lib/runtime/commands.js';

const APPLETS = ['sh', 'echo', 'cat', 'sleep', 'httpd', 'stat', 'id'];

if (requirePrereqs(t, ['runc', 'useradd', 'userdel', 'setpriv', 'newuidmap', 'busybox'])) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-rr-'));
  fs.chmodSync(dir, 0o755);
  const user = `sysctr-rr${process.pid % 100000}`;
  const home = path.join(dir, 'home');
  await execa('useradd', ['-M', '-d', home, '-s', '/bin/sh', user]);
  t.teardown(async () => {
    await execa('userdel', [user], { reject: false });
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const uid = Number((await execa('id', ['-u', user])).stdout);
  const gid = Number((await execa('id', ['-g', user])).stdout);
  // useradd gives a range when /etc/login.defs has SUB_UID_COUNT (Debian's does); else one is added here
  if (!new RegExp(`^${user}:`, 'm').test(fs.readFileSync('/etc/subuid', 'utf8'))) {
    await execa('usermod', ['--add-subuids', '400000-465535', '--add-subgids', '400000-465535', user]);
  }
  const range = (file: string) => {
    const line = fs.readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(`${user}:`))!;
    return Number(line.split(':')[1]);
  };
  const subuid = range('/etc/subuid');
  const subgid = range('/etc/subgid');
  const xdg = path.join(dir, 'xdg');
  for (const d of [home, xdg]) {
    fs.mkdirSync(d, { mode: 0o700 });
    fs.chownSync(d, uid, gid);
  }
  const env = { HOME: home, XDG_RUNTIME_DIR: xdg, PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' };
  // detach: `runc run -d` hands its stdio to the container, so no pipe of ours may be among them
  const asUser = (file: string, args: string[], opts: { detach?: string } = {}) => {
    const argv = [`--reuid=${uid}`, `--regid=${gid}`, '--init-groups', 'env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), file, ...args];
    if (!opts.detach) return execa('setpriv', argv, { reject: false, cwd: dir });
    const r = spawnSync('setpriv', argv, { cwd: dir, stdio: ['ignore', 'ignore', fs.openSync(opts.detach, 'w')] });
    return Promise.resolve({ exitCode: r.status ?? 1, stdout: '', stderr: '' });
  };
  const sysctr = (args: string[]) => asUser(process.execPath, [sysctrBin, ...args]);
  const runcRoot = path.join(xdg, 'sysctr-runc');
  const runc = (args: string[], opts: { detach?: string } = {}) => asUser('/usr/sbin/runc', ['--root', runcRoot, ...args], opts);
  const port = 20000 + (process.pid % 20000);
  const name = 'rr-itweb';
  const bundle = path.join(home, 'bundle');

  t.test('render --user: the config for rootless runc', async (t) => {
    const r = await sysctr(['render', '--user', '--name', name, '--set', `PORT=${port}`, '--set', 'MESSAGE=hello-rootless', '--out', bundle, path.join(projectDir, 'fixtures/images/example')]);
    t.equal(r.exitCode, 0, r.stderr);
    const c = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
    t.same(c.linux.uidMappings[0], { containerID: 0, hostID: uid, size: 1 }, 'uid 0 is the user');
    t.same(c.linux.uidMappings[1], { containerID: 1, hostID: subuid, size: 65536 }, 'then the subordinate range');
    t.ok(c.linux.namespaces.some((n: { type: string }) => n.type === 'user'));
    const unit = fs.readFileSync(path.join(bundle, `${name}.service`), 'utf8');
    t.match(unit, new RegExp(`^ExecStart=/\\S+/runc --root ${runcRoot} run ${name}$`, 'm'), 'runc by its path, its state in XDG_RUNTIME_DIR');
    t.match(fs.readFileSync(path.join(bundle, `${name}.service.d/sysctr.conf`), 'utf8'), /^Delegate=yes$/m);
  });

  t.test('rootless runc runs it: it answers, as the user on the host, ids mapped as the store maps them', async (t) => {
    // the rootfs as a user's store would check it out: the image's root is the user, its 1000 is subuid+999
    const rootfs = path.join(bundle, 'rootfs');
    fs.cpSync(path.join(projectDir, 'fixtures/images/example/rootfs'), rootfs, { recursive: true });
    fs.mkdirSync(path.join(rootfs, 'bin'));
    fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
    fs.chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
    for (const a of APPLETS) fs.symlinkSync('busybox', path.join(rootfs, 'bin', a));
    for (const d of ['proc', 'dev', 'sys', 'tmp', 'srv/www']) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
    await execa('chown', ['-R', `${uid}:${gid}`, bundle]);
    fs.chownSync(path.join(rootfs, 'usr/share/example/version'), subuid + 999, subgid + 999);
    // what the image's tmpfiles line makes: the bind-mount source under RUN_DIRECTORY
    const www = path.join(xdg, name);
    t.equal((await asUser('mkdir', ['-p', www])).exitCode, 0);

    const pidfile = path.join(xdg, `${name}.pid`);
    const log = path.join(dir, 'runc.log');
    const run = await runc(['run', '-d', '--pid-file', pidfile, '--bundle', bundle, name], { detach: log });
    t.equal(run.exitCode, 0, fs.readFileSync(log, 'utf8'));
    t.teardown(() => runc(['delete', '-f', name]));
    let page = '';
    for (let i = 0; i < 40 && !page.includes('hello'); i++) {
      page = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text(), () => '');
      if (!page.includes('hello')) await new Promise((res) => setTimeout(res, 250));
    }
    t.equal(page.trim(), 'hello-rootless', 'the service answers on the host network');
    const pid = Number(fs.readFileSync(pidfile, 'utf8').trim());
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    t.match(status, new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'), "the container's process is the user's uid on the host");
    t.equal(fs.statSync(path.join(www, 'index.html')).uid, uid, 'what its root writes is the user\'s');
    const inside = await runc(['exec', name, 'stat', '-c', '%u:%g', '/usr/share/example/version']);
    t.equal(String(inside.stdout).trim(), '1000:1000', 'host subuid+999 is 1000 inside');

    const stop = await asUser('/bin/sh', ['-c', stopScriptForShell(), 'sysctr-stop', `/usr/sbin/runc --root ${runcRoot}`, name]);
    t.equal(stop.exitCode, 0, String(stop.stderr));
    t.match(String(stop.stderr), /ignored SIGTERM .* sending SIGKILL/, 'httpd as PID 1 ignores TERM: the script escalated, through runc --root');
    const st = await runc(['state', name]);
    t.match(String(st.stdout), /"status": "stopped"/);
  });

  t.test('refused as a user, naming what is missing; nothing written', async (t) => {
    const out = path.join(home, 'refused');
    const low = await sysctr(['render', '--user', '--name', 'rr-low', '--set', 'PORT=80', '--out', out, path.join(projectDir, 'fixtures/images/example')]);
    t.equal(low.exitCode, 1);
    t.match(low.stderr, /rr-low: a container run by a user cannot listen on port 80 \(PORT=80\): ports below \d+ need root \(net\.ipv4\.ip_unprivileged_port_start is \d+\)/);
    t.notOk(fs.existsSync(out), 'nothing written');

    // an image binding a host directory the user cannot read (root's home)
    const src = path.join(dir, 'src-bind');
    fs.cpSync(path.join(projectDir, 'fixtures/images/example'), src, { recursive: true });
    const tmpl = path.join(src, 'exports/config.json.template');
    fs.writeFileSync(tmpl, fs.readFileSync(tmpl, 'utf8').replace('"mounts": [', '"mounts": [\n    { "destination": "/host-root", "type": "bind", "source": "/root", "options": ["rbind", "ro"] },'));
    const bind = await sysctr(['render', '--user', '--name', 'rr-bind', '--set', `PORT=${port}`, src]);
    t.equal(bind.exitCode, 1);
    t.match(bind.stderr, /rr-bind: a container run by a user cannot bind-mount \/root at \/host-root: \/root is not readable by you \(EACCES\)/);

    // host network and CAP_NET_ADMIN
    fs.writeFileSync(tmpl, fs.readFileSync(tmpl, 'utf8').replace(/\n\s*\{ "destination": "\/host-root"[^\n]*/, '').replace('"effective": [', '"effective": ["CAP_NET_ADMIN", '));
    const cap = await sysctr(['render', '--user', '--name', 'rr-cap', '--set', `PORT=${port}`, src]);
    t.equal(cap.exitCode, 1);
    t.match(cap.stderr, /rr-cap: a container run by a user cannot have CAP_NET_ADMIN over the host \(the container shares the host's network\)/);
    t.match(cap.stderr, /install it as root \(without --user\)/);
  });
}

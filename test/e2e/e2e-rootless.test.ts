/**
 * A plain user's containers end to end, in a systemd booted with systemd-nspawn: a new user with
 * subordinate ranges and a lingering user manager runs, as themselves (runuser, no
 * XDG_RUNTIME_DIR), `pull --user` and `install --user --now` of the example image whose version
 * file belongs to uid 1000. The service answers; its process is the user's uid on the host; the
 * file is 1000 inside and subuid+999 on the host; update, rollback and uninstall work; nothing
 * was written outside their home and /run/user/UID; root's and another user's containers are out of
 * their reach; a
 * user without a running manager is told `loginctl enable-linger`.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { projectDir, sysctrBin } from '../helpers/cli.js';
import { Machine, requireRealSystemd } from '../helpers/nspawn.js';
import { buildImageWithUmoci } from '../helpers/images.js';
import { page } from '../helpers/caps.js';

const USER = 'sysctr-rr1';
const UID = 1601;
const SUBUID = 200000;
const LAZY = 'sysctr-rr2';
const PORT = 9494;

if (requireRealSystemd(t)) {
  const m = await Machine.boot();
  t.teardown(() => m.shutdown());
  const home = `/home/${USER}`;
  const run = `/run/user/${UID}`;
  const runcRoot = `${run}/sysctr-runc`;

  // the image: the example, with its version file given to uid 1000; v2 says "v2"
  const layout = path.join(m.scratch, 'layout');
  for (const [tag, version] of [['v1', 'example image 1.0'], ['v2', 'v2']]) {
    const src = path.join(m.scratch, `src-${tag}`);
    fs.cpSync(path.join(projectDir, 'fixtures/images/example'), src, { recursive: true });
    const file = path.join(src, 'rootfs/usr/share/example/version');
    fs.writeFileSync(file, `${version}\n`);
    fs.chownSync(file, 1000, 1000);
    await buildImageWithUmoci(src, layout, tag);
  }
  await execa('chmod', ['-R', 'a+rX', m.scratch]);
  // the machine's /etc starts empty: user@.service needs PAM's configuration
  for (const d of ['pam.d', 'security']) fs.cpSync(`/etc/${d}`, path.join(m.scratch, 'etc', d), { recursive: true });

  const as = (user: string, cmd: string[]) =>
    m.exec(['runuser', '-u', user, '--', 'env', '-i', `HOME=/home/${user}`, 'PATH=/usr/local/bin:/usr/bin:/bin', 'LANG=C.UTF-8', ...cmd]);
  const sysctr = (args: string[], user = USER) => as(user, ['/usr/bin/node', sysctrBin, ...args]);
  const userctl = (args: string[]) => as(USER, ['env', `XDG_RUNTIME_DIR=${run}`, 'systemctl', '--user', ...args]);

  t.test('a user with subordinate ranges and a lingering manager', async (t) => {
    const r = await m.sh([
      `cp -a ${m.scratch}/etc/pam.d ${m.scratch}/etc/security /etc/`,
      `useradd -m -u ${UID} ${USER}`, `useradd -m -u ${UID + 1} ${LAZY}`,
      `printf '${USER}:${SUBUID}:65536\\n${LAZY}:300000:65536\\n' | tee /etc/subuid > /etc/subgid`,
      `loginctl enable-linger ${USER}`,
      `for i in $(seq 50); do [ -S ${run}/bus ] && break; sleep 0.2; done; test -S ${run}/bus`,
      'touch /tmp/rr-marker',
    ].join(' && '));
    t.equal(r.exitCode, 0, r.stderr);
    // nothing before the marker counts as the user's doing
    await new Promise((res) => setTimeout(res, 1100));
  });

  t.test('pull --user and install --user --now as the user: it answers, as their uid', async (t) => {
    for (const tag of ['v1', 'v2']) {
      const p = await sysctr(['pull', '--user', `oci:${layout}:${tag}`]);
      t.equal(p.exitCode, 0, p.stderr);
    }
    const r = await sysctr(['install', '--user', '--name', 'rr-web', '--set', `PORT=${PORT}`, '--set', 'MESSAGE=hello-rootless', '--set', 'SYSCTR_STOP_TIMEOUT=1', '--now', 'layout:v1']);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, new RegExp(`installed rr-web .* in ${home}/.local/share/containers/sysctr/rr-web\\.0`));
    t.notMatch(r.stderr, /no user@\d+\.service or systemd --user process/, "the user's manager is found from inside their namespace");
    t.equal((await userctl(['is-active', 'rr-web.service'])).stdout.trim(), 'active');
    t.equal(await page(m, PORT, 'hello-rootless'), 'hello-rootless', 'the service answers');
    t.equal((await m.exec(['busybox', 'wget', '-qO-', `http://127.0.0.1:${PORT}/version.txt`])).stdout.trim(), 'example image 1.0');

    const st = await as(USER, ['/usr/sbin/runc', '--root', runcRoot, 'state', 'rr-web']);
    t.equal(st.exitCode, 0, st.stderr);
    const pid = JSON.parse(st.stdout).pid;
    const status = await m.exec(['cat', `/proc/${pid}/status`]);
    t.match(status.stdout, new RegExp(`^Uid:\\s+${UID}\\s+${UID}\\s+${UID}\\s+${UID}$`, 'm'), "the container's process is the user's uid on the host");
    const cg = await m.exec(['cat', `/proc/${pid}/cgroup`]);
    t.match(cg.stdout, /\/app\.slice\/rr-web\.service\/container$/m, "in a cgroup inside the unit's");
    const inside = await as(USER, ['/usr/sbin/runc', '--root', runcRoot, 'exec', 'rr-web', 'ls', '-ln', '/usr/share/example/version']);
    t.match(inside.stdout, /^\S+\s+\d+\s+1000\s+1000\s/, 'the image\'s uid 1000 inside');
    const host = await m.exec(['stat', '-c', '%u:%g', `${home}/.local/share/containers/sysctr/rr-web.0/rootfs/usr/share/example/version`]);
    t.equal(host.stdout.trim(), `${SUBUID + 999}:${SUBUID + 999}`, 'subuid+999 on the host');
    const rows = JSON.parse((await sysctr(['containers', 'list', '--user', '--all', '--json'])).stdout);
    t.same(rows.map((x: { name: string; state: string }) => [x.name, x.state]), [['rr-web', 'running']]);
  });

  t.test('update --user, rollback --user', async (t) => {
    const up = await sysctr(['containers', 'update', '--user', '--rebase', 'layout:v2', 'rr-web']);
    t.equal(up.exitCode, 0, up.stderr);
    t.match(up.stdout, /updated rr-web: rr-web\.0 .* -> rr-web\.1 .*, restarted/);
    await page(m, PORT, 'hello-rootless');
    t.equal((await m.exec(['busybox', 'wget', '-qO-', `http://127.0.0.1:${PORT}/version.txt`])).stdout.trim(), 'v2');
    const back = await sysctr(['containers', 'rollback', '--user', 'rr-web']);
    t.equal(back.exitCode, 0, back.stderr);
    await page(m, PORT, 'hello-rootless');
    t.equal((await m.exec(['busybox', 'wget', '-qO-', `http://127.0.0.1:${PORT}/version.txt`])).stdout.trim(), 'example image 1.0');
  });

  t.test("root's container is out of the user's reach", async (t) => {
    const r = await m.sh(`/usr/bin/node ${sysctrBin} pull oci:${layout}:v1 >/dev/null && /usr/bin/node ${sysctrBin} install --name rr-root --set PORT=9595 --now layout:v1`);
    t.equal(r.exitCode, 0, r.stderr);
    for (const args of [['uninstall', 'rr-root'], ['stop', 'rr-root'], ['containers', 'update', 'rr-root'], ['containers', 'list']]) {
      const u = await sysctr(args);
      t.equal(u.exitCode, 1, `${args.join(' ')}: exit 1`);
      t.match(u.stderr, /permission denied|EACCES/, `${args.join(' ')}: says why`);
      t.notMatch(u.stderr, /internal error/);
    }
    const other = await sysctr(['containers', 'list', '--user', '--root', '/root/.local/share/containers/sysctr']);
    t.match(other.stderr, /permission denied: cannot scandir \/root\/.local\/share\/containers\/sysctr/);
    t.match(other.stderr, /your own containers are under ~\/.local\/share\/containers\/sysctr/);
    t.equal((await m.exec(['systemctl', 'is-active', 'rr-root.service'])).stdout.trim(), 'active', "root's container still runs");
  });

  t.test("another user's container is out of reach too", async (t) => {
    const theirs = `${home}/.local/share/containers/sysctr`;
    for (const args of [
      ['uninstall', '--user', '--root', theirs, 'rr-web'],
      ['containers', 'update', '--user', '--root', theirs, 'rr-web'],
      ['containers', 'rollback', '--user', '--root', theirs, 'rr-web'],
      ['containers', 'list', '--user', '--root', theirs],
      ['images', 'delete', '--user', '--root', theirs, '--force', 'layout:v1'],
    ]) {
      const u = await sysctr(args, LAZY);
      t.equal(u.exitCode, 1, `${args.join(' ')} as ${LAZY}: exit 1`);
      t.match(u.stderr, /permission denied/, `${args.join(' ')}: says why: ${u.stderr}`);
      t.notMatch(u.stderr, /internal error/);
    }
    t.equal((await userctl(['is-active', 'rr-web.service'])).stdout.trim(), 'active', `${USER}'s container still runs`);
    t.equal(await page(m, PORT, 'hello-rootless'), 'hello-rootless', 'and answers');
    const imgs = await sysctr(['images', 'list', '--user', '-q']);
    t.equal(imgs.stdout.trim().split('\n').length, 2, `${USER}'s images are all there`);
  });

  t.test('uninstall --user: nothing left; nothing was written outside home and /run/user/UID', async (t) => {
    const r = await sysctr(['uninstall', '--user', 'rr-web']);
    t.equal(r.exitCode, 0, r.stderr);
    const left = await m.sh(`ls -A ${home}/.config/systemd/user ${home}/.config/user-tmpfiles.d; ls -A ${home}/.local/share/containers/sysctr`);
    const rest = left.stdout.split('\n').filter((l) => l && !l.endsWith(':') && l !== 'store' && l !== '.containers.lock' && !l.endsWith('.wants'));
    t.same(rest, [], 'no unit, drop-in, tmpfiles conf or deployment');
    t.equal((await as(USER, ['/usr/sbin/runc', '--root', runcRoot, 'list', '-q'])).stdout.trim(), '', 'no runc container');
    // files of the user's ids (their own or the subordinate range) changed since the marker
    const prune = ['/proc', '/sys', '/dev', home, run, m.scratch, projectDir].map((p) => `-path ${p}`).join(' -o ');
    const found = await m.sh(`find / \\( ${prune} \\) -prune -o -newer /tmp/rr-marker \\( -uid ${UID} -o \\( -uid +${SUBUID - 1} -uid -${SUBUID + 65536} \\) \\) -print`);
    t.equal(found.stdout.trim(), '', 'nothing of theirs outside home and /run/user/UID');
  });

  t.test('a user whose manager does not run is told loginctl enable-linger', async (t) => {
    const p = await sysctr(['pull', '--user', `oci:${layout}:v1`], LAZY);
    t.equal(p.exitCode, 0, p.stderr);
    const r = await sysctr(['install', '--user', '--name', 'rr-lazy', '--set', 'PORT=9696', 'layout:v1'], LAZY);
    t.equal(r.exitCode, 1);
    t.match(r.stderr, new RegExp(`your service manager \\(user@${UID + 1}\\.service\\) is not running`));
    t.match(r.stderr, new RegExp(`loginctl enable-linger ${LAZY}`));
    const none = await m.sh(`ls -A /home/${LAZY}/.local/share/containers/sysctr; ls /home/${LAZY}/.config/systemd/user 2>/dev/null`);
    t.notMatch(none.stdout, /rr-lazy/, 'nothing installed');
  });
}

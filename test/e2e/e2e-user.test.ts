/**
 * User mode end to end (install --user), inside a systemd booted with systemd-nspawn: a user
 * manager for root (started with systemd-run: the machine has no PAM session for user@0.service),
 * the image pulled into the user's store, installed as a user unit, answering, listed, stopped
 * (inactive, no runc container) and uninstalled (nothing left in the user's directories).
 */
import t from 'tap';
import path from 'node:path';
import { projectDir } from '../helpers/cli.js';
import { Machine, requireRealSystemd } from '../helpers/nspawn.js';
import { buildImageWithUmoci } from '../helpers/images.js';
import { containerCaps, missingFromPid1 } from '../helpers/caps.js';

if (requireRealSystemd(t)) {
  const m = await Machine.boot();
  t.teardown(() => m.shutdown());
  const layout = path.join(m.scratch, 'layout');
  await buildImageWithUmoci(path.join(projectDir, 'fixtures/images/example'), layout, 'v1');
  const env = { XDG_RUNTIME_DIR: '/run/user/0' };
  const sysctr = (args: string[]) => m.sysctr(args, env);
  const userctl = (args: string[]) => m.exec(['systemctl', '--user', ...args], { env });
  const unitDir = '/root/.config/systemd/user';
  const root = '/root/.local/share/containers/sysctr';

  t.test('a user manager runs', async (t) => {
    await m.sh('mkdir -p /run/user/0 && chmod 700 /run/user/0');
    const r = await m.exec([
      // a bounding set smaller than PID 1's: the user's manager is whose set limits --user containers
      'systemd-run', '--unit=sysctr-test-user-manager', '-p', 'Type=notify', '-p', 'Delegate=yes', '-p', 'CapabilityBoundingSet=~CAP_NET_RAW',
      '--setenv=XDG_RUNTIME_DIR=/run/user/0', '--setenv=HOME=/root', '/lib/systemd/systemd', '--user',
    ]);
    t.equal(r.exitCode, 0, r.stderr);
    t.match((await userctl(['is-system-running'])).stdout, /^(running|degraded)/);
  });

  t.test('pull --user and install --user --now: a user unit, running, answering', async (t) => {
    const pull = await sysctr(['pull', '--user', `oci:${layout}:v1`]);
    t.equal(pull.exitCode, 0, pull.stderr);
    t.match((await sysctr(['images', 'list', '--user', '-q'])).stdout, /^[0-9a-f]{12}$/m, "the image is in the user's store");
    t.equal((await sysctr(['images', 'list', '-q'])).stdout, '', 'not in the system store');
    const r = await sysctr(['install', '--user', '--name', 'uweb', '--set', 'PORT=9191', '--set', 'MESSAGE=hello-user-mode', '--set', 'SYSCTR_STOP_TIMEOUT=1', '--now', 'layout:v1']);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, new RegExp(`installed uweb .* in ${root}/uweb\\.0`));
    t.match(r.stderr, /sysctr: warning: ALL_PROCESS_CAPABILITIES leaves out CAP_NET_RAW(, CAP_[A-Z_]+)*: the bounding set of PID \d+, the service manager of user 0 that runs the unit, lacks/,
      "cut to the user manager's bounding set");
    t.notOk((await missingFromPid1(m)).includes('CAP_NET_RAW'), "PID 1's set has CAP_NET_RAW: the user manager's set was read");
    t.equal((await userctl(['is-enabled', 'uweb.service'])).stdout.trim(), 'enabled');
    // the example's service.template says WantedBy=multi-user.target, a target a user manager lacks
    t.match(r.stderr, /WantedBy=multi-user\.target is a target only the system manager has; the user manager enables it with default\.target/);
    const wants = await m.sh(`readlink ${unitDir}/default.target.wants/uweb.service; grep -x WantedBy=default.target ${unitDir}/uweb.service; ls ${unitDir}/multi-user.target.wants 2>&1`);
    t.match(wants.stdout, /uweb\.service\nWantedBy=default\.target\n.*No such file/s, 'linked into default.target.wants, which the user manager starts');
    t.equal((await userctl(['is-active', 'uweb.service'])).stdout.trim(), 'active');
    const files = await m.sh(`ls ${unitDir}/uweb.service ${unitDir}/uweb.service.d/sysctr.conf /root/.config/user-tmpfiles.d/uweb.conf; readlink ${root}/uweb; test -e /etc/systemd/system/uweb.service || echo no-system-unit`);
    t.equal(files.exitCode, 0, files.stderr);
    t.match(files.stdout, /^uweb\.0$/m);
    t.match(files.stdout, /no-system-unit/);
    let page = '';
    for (let i = 0; i < 40 && !page.includes('hello'); i++) {
      page = (await m.exec(['busybox', 'wget', '-qO-', 'http://127.0.0.1:9191/'])).stdout;
      if (!page.includes('hello')) await new Promise((res) => setTimeout(res, 250));
    }
    t.equal(page.trim(), 'hello-user-mode', 'the service answers with the --set value');
    const caps = await containerCaps(m, 'uweb');
    t.notOk(caps.bounding.includes('CAP_NET_RAW'), "the container's CapBnd lacks what the user manager lacks");
    t.ok(caps.bounding.includes('CAP_SYS_ADMIN'));
  });

  t.test('containers list --user shows it running; the system list does not', async (t) => {
    const rows = JSON.parse((await sysctr(['containers', 'list', '--user', '--all', '--json'])).stdout);
    t.same(rows.map((r: { name: string; state: string }) => [r.name, r.state]), [['uweb', 'running']]);
    t.equal((await sysctr(['containers', 'list', '--all', '-q'])).stdout, '');
  });

  t.test('stop --user: inactive, not failed, no runc container left', async (t) => {
    const r = await sysctr(['stop', '--user', 'uweb']);
    t.equal(r.exitCode, 0, r.stderr);
    t.equal((await userctl(['is-active', 'uweb.service'])).stdout.trim(), 'inactive');
    t.match((await userctl(['show', 'uweb.service', '-p', 'Result'])).stdout, /Result=success/);
    t.notMatch((await m.exec(['runc', 'list', '-q'])).stdout, /uweb/);
  });

  t.test('uninstall --user leaves nothing in the user directories', async (t) => {
    const r = await sysctr(['uninstall', '--user', 'uweb']);
    t.equal(r.exitCode, 0, r.stderr);
    const left = await m.sh(`ls -A ${unitDir} /root/.config/user-tmpfiles.d; ls -A ${root}`);
    // what stays is sysctr's own: the store and the lock of the state root
    const rest = left.stdout.split('\n').filter((l) => l && !l.endsWith(':') && l !== 'store' && l !== '.containers.lock');
    t.same(rest, [], 'no unit, drop-in, tmpfiles conf or deployment');
    t.equal((await userctl(['is-enabled', 'uweb.service'])).exitCode === 0, false, 'the unit is gone');
  });
}

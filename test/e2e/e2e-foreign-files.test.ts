/**
 * End to end, in a systemd booted with systemd-nspawn: other people's files are never taken. A
 * tmpfiles conf an administrator wrote stops the install (named; --force takes it over); a vendor
 * unit of the same name in /lib/systemd/system (the host's docker-registry.service) is not shadowed;
 * uninstall leaves a conf the administrator changed, and runs no `systemd-tmpfiles --remove` on it.
 */
import t from 'tap';
import path from 'node:path';
import { projectDir } from '../helpers/cli.js';
import { Machine, requireRealSystemd } from '../helpers/nspawn.js';
import { buildImageWithUmoci } from '../helpers/images.js';
import { unmet } from '../helpers/prereq.js';

if (requireRealSystemd(t)) {
  const m = await Machine.boot({ timeoutMs: 180_000 });
  t.teardown(() => m.shutdown());
  const layout = path.join(m.scratch, 'layout');
  await buildImageWithUmoci(path.join(projectDir, 'fixtures/images/example'), layout, 'v1');
  const sysctr = (args: string[]) => m.sysctr(args, { SYSCTR_ROOT: '/var/lib/sysctr-foreign' });
  const install = (name: string, ...more: string[]) => sysctr(['install', '--name', name, '--set', 'PORT=8187', ...more, 'layout:v1']);

  t.test('pull', async (t) => {
    t.equal((await sysctr(['pull', '-q', `oci:${layout}:v1`])).exitCode, 0);
  });

  t.test("an administrator's tmpfiles conf: refused, then taken over with --force", async (t) => {
    await m.sh("mkdir -p /etc/tmpfiles.d && printf 'd /var/lib/admin-data 0700 root root -\\n' > /etc/tmpfiles.d/fx-web.conf");
    const r = await install('fx-web');
    t.equal(r.exitCode, 1);
    t.match(r.stderr, '/etc/tmpfiles.d/fx-web.conf already exists and was not written by sysctr');
    t.match(r.stderr, /--force to take it over/);
    t.equal((await m.exec(['cat', '/etc/tmpfiles.d/fx-web.conf'])).stdout, 'd /var/lib/admin-data 0700 root root -', 'left as it was');
    t.equal((await m.exec(['test', '-e', '/etc/systemd/system/fx-web.service'])).exitCode, 1, 'no unit written');
    const forced = await install('fx-web', '--force');
    t.equal(forced.exitCode, 0, forced.stderr);
    t.match((await m.exec(['cat', '/etc/tmpfiles.d/fx-web.conf'])).stdout, /^d \/run\/fx-web 0755 root root -/, "sysctr's conf now");
    const un = await sysctr(['uninstall', 'fx-web']);
    t.equal(un.exitCode, 0, un.stderr);
    t.equal((await m.exec(['test', '-e', '/etc/tmpfiles.d/fx-web.conf'])).exitCode, 1, 'taken over, so removed by its uninstall');
  });

  t.test('a conf the administrator changed after install is kept by uninstall, and not --removed', async (t) => {
    t.equal((await install('fx-two')).exitCode, 0);
    await m.sh("printf 'D /var/lib/fx-keep 0700 root root -\\n' > /etc/tmpfiles.d/fx-two.conf && mkdir -p /var/lib/fx-keep && echo data > /var/lib/fx-keep/f");
    const un = await sysctr(['uninstall', 'fx-two']);
    t.equal(un.exitCode, 0, un.stderr);
    t.match(un.stdout, 'keep /etc/tmpfiles.d/fx-two.conf: it was not written by sysctr');
    t.equal((await m.exec(['cat', '/var/lib/fx-keep/f'])).stdout, 'data', 'its D path was not emptied');
    t.equal((await m.exec(['test', '-e', '/etc/systemd/system/fx-two.service'])).exitCode, 1, "sysctr's own unit is gone");
  });

  t.test('a name whose unit a package ships (/lib/systemd/system/docker-registry.service) is refused', async (t) => {
    const vendor = await m.exec(['systemctl', 'cat', 'docker-registry.service']);
    if (vendor.exitCode !== 0) return unmet(t, 'docker-registry.service is not in the host /usr (scripts/setup.sh installs docker-registry)');
    const r = await install('docker-registry');
    t.equal(r.exitCode, 1);
    t.match(r.stderr, /\/lib\/systemd\/system\/docker-registry\.service already exists and was not written by sysctr/);
    t.equal((await m.exec(['test', '-e', '/etc/systemd/system/docker-registry.service'])).exitCode, 1, 'nothing shadows it');
    t.match((await m.exec(['systemctl', 'show', '-p', 'FragmentPath', 'docker-registry.service'])).stdout, /lib\/systemd\/system\/docker-registry\.service/);
  });
}

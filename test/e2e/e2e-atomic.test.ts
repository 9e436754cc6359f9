/**
 * Project Atomic's own etcd and net-snmp images, with real payloads, end to end: their /exports
 * files read unchanged from the compat corpus, rebuilt on a Debian 12 rootfs (etcd-server; snmpd)
 * by fixtures/atomic/build-image.sh, two builds each. In a systemd booted with systemd-nspawn, with
 * real runc, under the names the images expect (etcd, net-snmp): install --now, the host files from
 * /exports/hostfs, etcd healthy with a key written by the image's own etcdctl installed on the host,
 * snmpget answered; `containers update --rebase` to the second build (the key still there),
 * `containers rollback`; `systemctl stop` ending inactive, not failed, after each; uninstall (host
 * files gone). Twice: on a host as this one is, and on one whose bounding set lacks
 * CAP_SYS_RESOURCE (net-snmp's config.json asks for every capability by name).
 */
import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Machine, requireRealSystemd } from '../helpers/nspawn.js';
import { buildAtomicImage, missingAtomicPrerequisite } from '../helpers/atomic-images.js';
import { unmet } from '../helpers/prereq.js';

const ROOT = '/var/lib/sysctr-atomic';
const ETCD = 'http://127.0.0.1:2379';
const SYS_DESCR = '1.3.6.1.2.1.1.1.0';
const BUILD_FILE = '/usr/share/sysctr-fixture/build';

const why = missingAtomicPrerequisite();
if (why) unmet(t, `the Atomic images cannot be built: ${why}`);
else if (requireRealSystemd(t)) {
  const layouts = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-atomic-'));
  t.teardown(() => fs.rmSync(layouts, { recursive: true, force: true }));
  const log = (s: string) => t.comment(s);
  // the images build (and on a first run the rootfs caches fill) while the machines boot
  const [full, reduced] = await Promise.all([
    Machine.boot({ binds: [layouts] }),
    Machine.boot({ binds: [layouts], dropCapabilities: ['CAP_SYS_RESOURCE'] }),
    (async () => {
      await buildAtomicImage('etcd', path.join(layouts, 'etcd'), log);
      await buildAtomicImage('net-snmp', path.join(layouts, 'net-snmp'), log);
    })(),
  ]);
  t.teardown(() => Promise.all([full.shutdown(), reduced.shutdown()]));

  // the two hosts side by side (each machine has cgroups of its own: Machine.boot), as most of
  // each scenario is waiting for services
  t.test('both hosts', { jobs: 2 }, async (t) => {
    t.test('host as this one is', (t) => scenario(t, full, false));
    t.test('host whose bounding set lacks CAP_SYS_RESOURCE', (t) => scenario(t, reduced, true));
  });

  async function scenario(t: Test, m: Machine, reducedCaps: boolean): Promise<void> {
    const env = { SYSCTR_ROOT: ROOT };
    const sysctr = (args: string[]) => m.sysctr(args, env);
    const ok = async (t: Test, args: string[]) => {
      const r = await sysctr(args);
      // a failure shows the service's last journal lines, snmpd's MIB complaints left out
      const journal = async () => {
        const name = ['etcd', 'net-snmp'].find((n) => args.includes(n) || args.some((a) => a.startsWith(`localhost/${n}:`)));
        if (!name) return '';
        const j = await m.exec(['journalctl', '-u', `${name}.service`, '-n', '60', '--no-pager']);
        return '\n' + j.stdout.split('\n').filter((l) => !/MIB|Cannot adopt|Unlinked OID|Undefined identifier/.test(l)).slice(-25).join('\n');
      };
      t.equal(r.exitCode, 0, `sysctr ${args.join(' ')}: ${r.stderr}${r.exitCode === 0 ? '' : await journal()}`);
      return r;
    };
    const exists = async (p: string) => (await m.exec(['test', '-e', p])).exitCode === 0;
    const show = async (unit: string) => {
      const r = await m.exec(['systemctl', 'show', '-p', 'ActiveState,Result', unit]);
      return Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split('=')));
    };
    const stopClean = async (t: Test, name: string, when: string) => {
      const r = await m.exec(['systemctl', 'stop', `${name}.service`]);
      t.equal(r.exitCode, 0, r.stderr);
      t.same(await show(`${name}.service`), { ActiveState: 'inactive', Result: 'success' }, `systemctl stop ${name} ${when}: inactive, not failed`);
    };
    const poll = async (cmd: string[], want: RegExp, envx: Record<string, string> = {}) => {
      let out = '';
      for (let i = 0; i < 80; i++) {
        const r = await m.exec(cmd, { env: envx, timeoutMs: 10_000 });
        out = `${r.stdout}${r.stderr}`;
        if (r.exitCode === 0 && want.test(out)) return out;
        await new Promise((res) => setTimeout(res, 250));
      }
      return out;
    };
    // the image's etcdctl, installed on the host from /exports/hostfs (renameFiles: ${NAME}ctl)
    const etcdctl = (...args: string[]) => ['/usr/local/bin/etcdctl', `--endpoints=${ETCD}`, '--dial-timeout=2s', ...args];
    const healthy = () => poll(etcdctl('endpoint', 'health'), /is healthy/);
    const snmpget = () => poll(['snmpget', '-v2c', '-c', 'public', '127.0.0.1', SYS_DESCR], /STRING: "Linux /, { MIBS: '' });

    t.test('pull both builds of both images', async (t) => {
      for (const img of ['etcd', 'net-snmp']) for (const tag of ['1', '2']) await ok(t, ['pull', '-q', `oci:${path.join(layouts, img)}:${tag}`]);
    });

    t.test('etcd on a host whose /usr/local is read-only: a clear error naming the file, nothing installed', async (t) => {
      // this machine's /usr is the host's, read-only: etcdctl cannot go to /usr/local/bin
      const r = await sysctr(['install', '--name', 'etcd', 'localhost/etcd:1']);
      t.equal(r.exitCode, 1, r.stdout);
      t.match(r.stderr, /cannot install the host file \/usr\/local\/bin\/etcdctl: \/usr\/local\/bin is not writable \(EROFS\)/);
      t.notMatch(r.stderr, /internal error/);
      t.notOk(await exists('/etc/systemd/system/etcd.service'), 'no unit');
      t.notOk(await exists(`${ROOT}/etcd`), 'no deployment link');
      for (const p of ['/etc/etcd', `${ROOT}/etcd.0`, `${ROOT}/.etcd.journal`]) t.notOk(await exists(p), `no ${p}: checked before anything was written`);
    });

    t.test('the host: a writable /usr/local (as on an Atomic host) and an /etc/resolv.conf', async (t) => {
      const r = await m.sh('mount -t tmpfs -o mode=0755 tmpfs /usr/local && mkdir /usr/local/bin && echo "nameserver 127.0.0.1" > /etc/resolv.conf');
      t.equal(r.exitCode, 0, r.stderr);
    });

    t.test('etcd: install --now, host files, healthy, a key written', async (t) => {
      await ok(t, ['install', '--name', 'etcd', '--now', 'localhost/etcd:1']);
      const conf = await m.exec(['cat', '/etc/etcd/etcd.conf']);
      t.match(conf.stdout, /^## etcd\(1\) daemon options/, '/etc/etcd/etcd.conf from Debian\'s /etc/default/etcd');
      t.equal((await m.exec(['test', '-x', '/usr/local/bin/etcdctl'])).exitCode, 0, 'etcdctl installed');
      t.match(await healthy(), /127\.0\.0\.1:2379 is healthy/);
      t.match((await m.exec(etcdctl('put', 'atomic-key', 'kept'))).stdout, /^OK/);
      const r = await sysctr(['run', 'etcd', 'cat', BUILD_FILE]);
      t.not(r.exitCode, 0, 'build 1 has no build file');
      await stopClean(t, 'etcd', 'after install');
      await ok(t, ['start', 'etcd']);
      t.match(await healthy(), /is healthy/);
    });

    t.test('etcd: update --rebase to build 2, the key kept; rollback; stopped cleanly after each', async (t) => {
      const up = await ok(t, ['containers', 'update', '--rebase', 'localhost/etcd:2', 'etcd']);
      t.match(up.stdout, /updated etcd: etcd\.0 \(localhost\/etcd:1\) -> etcd\.1 \(localhost\/etcd:2\), restarted/);
      t.match(await healthy(), /is healthy/);
      t.match((await m.exec(etcdctl('get', 'atomic-key', '--print-value-only'))).stdout, /^kept$/m, 'the key survived the update');
      t.equal((await sysctr(['run', 'etcd', 'cat', BUILD_FILE])).stdout.trim(), 'build 2');
      await stopClean(t, 'etcd', 'after the update');
      await ok(t, ['start', 'etcd']);
      const rb = await ok(t, ['containers', 'rollback', 'etcd']);
      t.match(rb.stdout, /rolled back etcd: etcd\.1 -> etcd\.0 \(localhost\/etcd:1\), restarted/);
      // at once: etcd is still starting (its SIGTERM handler not set yet)
      await stopClean(t, 'etcd', 'right after the rollback');
      await ok(t, ['start', 'etcd']);
      t.match(await healthy(), /is healthy/);
      t.match((await m.exec(etcdctl('get', 'atomic-key', '--print-value-only'))).stdout, /^kept$/m, 'the key survived the rollback');
      t.not((await sysctr(['run', 'etcd', 'cat', BUILD_FILE])).exitCode, 0, 'build 1 again');
      await stopClean(t, 'etcd', 'after the rollback');
    });

    t.test('etcd: uninstall removes the unit and the host files', async (t) => {
      await ok(t, ['uninstall', 'etcd']);
      for (const p of ['/etc/etcd/etcd.conf', '/etc/etcd', '/usr/local/bin/etcdctl', '/etc/systemd/system/etcd.service', `${ROOT}/etcd`, `${ROOT}/etcd.0`, `${ROOT}/etcd.1`]) {
        t.notOk(await exists(p), `${p} gone`);
      }
    });

    t.test('net-snmp: install --now, host files, snmpget answered', async (t) => {
      const r = await ok(t, ['install', '--name', 'net-snmp', '--now', 'localhost/net-snmp:1']);
      if (reducedCaps) t.match(r.stderr, /config\.json asks for CAP_SYS_RESOURCE .*left out of config\.json/, 'the capability the host lacks is left out, with a warning');
      for (const p of ['/etc/snmp/snmpd.conf', '/etc/snmp/snmptrapd.conf', '/etc/sysconfig/snmpd', '/etc/sysconfig/snmptrapd', '/var/lib/net-snmp']) t.ok(await exists(p), `${p} installed`);
      t.match(await snmpget(), /STRING: "Linux /);
      t.equal((await m.exec(['systemctl', 'is-active', 'net-snmp.service'])).stdout.trim(), 'active', 'Type=notify: snmpd said it is ready');
      await stopClean(t, 'net-snmp', 'after install');
      await ok(t, ['start', 'net-snmp']);
    });

    t.test('net-snmp: update --rebase to build 2, rollback; stopped cleanly after each', async (t) => {
      await ok(t, ['containers', 'update', '--rebase', 'localhost/net-snmp:2', 'net-snmp']);
      t.match(await snmpget(), /STRING: "Linux /);
      t.equal((await sysctr(['run', 'net-snmp', 'cat', BUILD_FILE])).stdout.trim(), 'build 2');
      await stopClean(t, 'net-snmp', 'after the update');
      await ok(t, ['start', 'net-snmp']);
      await ok(t, ['containers', 'rollback', 'net-snmp']);
      await stopClean(t, 'net-snmp', 'right after the rollback');
      await ok(t, ['start', 'net-snmp']);
      t.match(await snmpget(), /STRING: "Linux /);
      t.not((await sysctr(['run', 'net-snmp', 'cat', BUILD_FILE])).exitCode, 0, 'build 1 again');
      await stopClean(t, 'net-snmp', 'after the rollback');
    });

    t.test('net-snmp: uninstall removes the unit and the host files', async (t) => {
      await ok(t, ['uninstall', 'net-snmp']);
      for (const p of ['/etc/snmp', '/etc/sysconfig/snmpd', '/etc/sysconfig/snmptrapd', '/etc/systemd/system/net-snmp.service', `${ROOT}/net-snmp.0`]) {
        t.notOk(await exists(p), `${p} gone`);
      }
    });
  }
}

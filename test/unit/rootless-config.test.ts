/**
 * lib/runtime/rootless.ts and the rootless forms of the unit commands: what a plain user's
 * config.json becomes, and what is refused (each message naming what is missing). Pure logic:
 * test/integration/rootless-runtime.test.ts runs the result with real runc as a plain user.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rootlessConfig, rootlessConfigText, rootlessTmpfiles, type RootlessInput } from '../../lib/runtime/rootless.js';
import { requireUserManager, userManagerEnv } from '../../lib/systemd/user-manager.js';
import { permissionError, SysctrError } from '../../lib/errors.js';
import { execCommands, stopCommand } from '../../lib/runtime/commands.js';
import { renderDropIn } from '../../lib/systemd/dropin.js';
import { mappingsFrom } from '../../lib/userns.js';

const mappings = {
  uidMappings: [{ containerID: 0, hostID: 1500, size: 1 }, { containerID: 1, hostID: 200000, size: 65536 }],
  gidMappings: [{ containerID: 0, hostID: 1500, size: 1 }, { containerID: 1, hostID: 200000, size: 65536 }],
};
const base: RootlessInput = { name: 'rr-web', uid: 1500, mappings, values: {}, unprivilegedPortStart: 1024, canUse: () => undefined, unifiedCgroup: true };

function config(extra: Record<string, unknown> = {}, linux: Record<string, unknown> = {}) {
  return {
    ociVersion: '1.0.2',
    process: { terminal: false, user: { uid: 0, gid: 0 }, args: ['/bin/sh'], cwd: '/', capabilities: { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] } },
    root: { path: 'rootfs', readonly: true },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'newinstance', 'gid=5'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/srv', type: 'bind', source: '/home/u/srv', options: ['rbind', 'rw'] },
    ],
    linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }], resources: { memory: { limit: 1000000 } }, ...linux },
    ...extra,
  };
}

t.test('a user namespace with the mappings, rbind /sys, nosuid+nodev binds, no cgroup limits, a cgroup in the unit', async (t) => {
  const doc = config();
  const { config: c, warnings } = rootlessConfig(doc, base);
  const linux = c.linux as Record<string, unknown>;
  t.same(linux.namespaces, [{ type: 'pid' }, { type: 'mount' }, { type: 'user' }]);
  t.same(linux.uidMappings, mappings.uidMappings);
  t.same(linux.gidMappings, mappings.gidMappings);
  t.equal(linux.resources, undefined, 'no cgroup limits');
  t.equal(linux.cgroupsPath, 'rr-web.service/container', "relative: under the unit's own cgroup");
  t.match(warnings[0], /linux\.resources \(memory\) left out/);
  const mounts = c.mounts as Array<{ destination: string; type: string; source: string; options?: string[] }>;
  t.same(mounts.find((m) => m.destination === '/sys'), { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] });
  t.same(mounts.find((m) => m.destination === '/srv')!.options, ['rbind', 'rw', 'nosuid', 'nodev']);
  t.same(mounts.find((m) => m.destination === '/dev/pts')!.options, ['nosuid', 'newinstance', 'gid=5'], 'gid 5 is mapped: kept');
  t.equal((doc.linux as Record<string, unknown>).uidMappings, undefined, 'the input is not changed');
  t.equal((rootlessConfig(config(), { ...base, unifiedCgroup: false }).config.linux as Record<string, unknown>).cgroupsPath, undefined, 'cgroup v1: no path a user cannot make');
});

t.test('with only the user\'s own id mapped: a devpts gid outside it is dropped, uid 1000 is refused', async (t) => {
  const own = { uidMappings: mappingsFrom(1500, []), gidMappings: mappingsFrom(1500, []) };
  const { config: c } = rootlessConfig(config(), { ...base, mappings: own });
  t.same((c.mounts as Array<{ destination: string; options?: string[] }>).find((m) => m.destination === '/dev/pts')!.options, ['nosuid', 'newinstance']);
  const as1000 = config({ process: { ...config().process, user: { uid: 1000, gid: 1000 } } });
  t.throws(() => rootlessConfig(as1000, { ...base, mappings: own }), { message: /rr-web: a container run by a user cannot run as uid 1000: it is outside your user namespace \(0\); refused/ });
});

t.test('refused, naming what is missing: low port, host-only capabilities, host devices, joined namespaces, unreadable bind source', async (t) => {
  t.throws(() => rootlessConfig(config(), { ...base, values: { PORT: '80' } }), {
    message: /cannot listen on port 80 \(PORT=80\): ports below 1024 need root \(net\.ipv4\.ip_unprivileged_port_start is 1024\)/,
    hint: /--set PORT=.*sysctl net\.ipv4\.ip_unprivileged_port_start=80/,
  });
  t.throws(() => rootlessConfig(config(), { ...base, values: { HTTP_PORT: '443' } }), { message: /port 443 \(HTTP_PORT=443\)/ });
  t.doesNotThrow(() => rootlessConfig(config(), { ...base, values: { PORT: '8080', PORTLAND: '80' } }), 'high ports and names that are not ports pass');
  t.doesNotThrow(() => rootlessConfig(config(), { ...base, values: { PORT: '80' }, unprivilegedPortStart: 0 }), 'the sysctl lowered: allowed');
  const ownNet = config({}, { namespaces: [{ type: 'pid' }, { type: 'network' }] });
  t.doesNotThrow(() => rootlessConfig(ownNet, { ...base, values: { PORT: '80' } }), 'its own network namespace: port 80 is its own');

  const netAdmin = config({ process: { ...config().process, capabilities: { bounding: ['CAP_NET_ADMIN'], effective: ['CAP_NET_ADMIN'] } } });
  t.throws(() => rootlessConfig(netAdmin, base), { message: /cannot have CAP_NET_ADMIN over the host \(the container shares the host's network\)/ });
  t.doesNotThrow(() => rootlessConfig({ ...netAdmin, linux: { namespaces: [{ type: 'network' }] } }, base), 'in its own network namespace CAP_NET_ADMIN is its own');
  const time = config({ process: { ...config().process, capabilities: { permitted: ['CAP_SYS_TIME'] } } });
  t.throws(() => rootlessConfig(time, base), { message: /cannot have CAP_SYS_TIME over the host/ });
  const boundOnly = config({ process: { ...config().process, capabilities: { bounding: ['CAP_SYS_TIME', 'CAP_NET_ADMIN'] } } });
  t.doesNotThrow(() => rootlessConfig(boundOnly, base), 'the bounding set only limits: not refused');

  t.throws(() => rootlessConfig(config({}, { devices: [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229 }] }), base), { message: /cannot have host devices \(\/dev\/fuse in linux\.devices\)/ });
  t.throws(() => rootlessConfig(config({}, { namespaces: [{ type: 'network', path: '/proc/1/ns/net' }] }), base), { message: /cannot join the network namespace at \/proc\/1\/ns\/net/ });
  t.throws(() => rootlessConfig(config(), { ...base, canUse: (p) => (p === '/home/u/srv' ? `${p} is not readable by you (EACCES)` : undefined) }), {
    message: /cannot bind-mount \/home\/u\/srv at \/srv: \/home\/u\/srv is not readable by you \(EACCES\)/,
  });
});

t.test('config.json text: two-space JSON with a final newline', async (t) => {
  const { text } = rootlessConfigText(JSON.stringify(config()), base);
  t.ok(text.endsWith('}\n'));
  t.match(text, /^ {2}"ociVersion"/m);
});

t.test('unit commands: runc --root in EXEC_*, the stop script and the drop-in; Delegate=yes', async (t) => {
  const c = execCommands({ name: 'rr-web', runtime: '/usr/sbin/runc', destdir: '/d', detached: true, pidfile: '/run/user/1500/p.pid', runcRoot: '/run/user/1500/sysctr-runc' });
  t.equal(c.EXEC_START, '/usr/sbin/runc --root /run/user/1500/sysctr-runc run -d --pid-file /run/user/1500/p.pid rr-web');
  t.equal(c.EXEC_STARTPRE, '/usr/sbin/runc --root /run/user/1500/sysctr-runc delete -f rr-web');
  t.ok(c.EXEC_STOP.endsWith(`sysctr-stop "/usr/sbin/runc --root /run/user/1500/sysctr-runc" rr-web`), 'the runtime and its --root as one word, split by the script');
  t.equal(stopCommand('/usr/sbin/runc', 'x').replace(/sysctr-stop .*/, ''), c.EXEC_STOP.replace(/sysctr-stop .*/, ''), 'the same script as in system mode');
  const d = renderDropIn({ name: 'rr-web', runtime: '/usr/sbin/runc', unit: '', detached: true, pidfile: '/p', runcRoot: '/run/user/1500/sysctr-runc' });
  t.match(d, /^Delegate=yes$/m);
  t.match(d, /^ExecStopPost=-\/usr\/sbin\/runc --root \/run\/user\/1500\/sysctr-runc delete -f rr-web$/m);
  t.notMatch(renderDropIn({ name: 'w', runtime: '/usr/sbin/runc', unit: '', detached: true, pidfile: '/p' }), /Delegate/, 'not in system mode');
});

t.test("tmpfiles for a user: root owners become the user (-), others and comments stay", async (t) => {
  const conf = '# the page\nd /run/user/1500/web 0755 root root -\nf /run/user/1500/web/x 0644 0 0 - hello world\nd /run/user/1500/db 0700 etcd etcd -\n\n';
  t.equal(rootlessTmpfiles(conf), '# the page\nd /run/user/1500/web 0755 - - -\nf /run/user/1500/web/x 0644 - - - hello world\nd /run/user/1500/db 0700 etcd etcd -\n\n');
});

t.test("the user's manager: found through XDG_RUNTIME_DIR, or the error names loginctl enable-linger", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-rr-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  t.throws(() => requireUserManager(1500, { XDG_RUNTIME_DIR: dir }, 'sysctr-rr1'), {
    message: `your service manager (user@1500.service) is not running: ${dir} has no systemd/private or bus socket`,
    hint: /loginctl enable-linger sysctr-rr1/,
  });
  t.same(userManagerEnv(1500, {}), { XDG_RUNTIME_DIR: '/run/user/1500' }, 'runuser and su set no XDG_RUNTIME_DIR: the one pam_systemd makes');
  fs.mkdirSync(path.join(dir, 'systemd'));
  fs.writeFileSync(path.join(dir, 'systemd/private'), '');
  t.doesNotThrow(() => requireUserManager(1500, { XDG_RUNTIME_DIR: dir }, 'sysctr-rr1'));
  fs.writeFileSync(path.join(dir, 'bus'), '');
  t.same(userManagerEnv(1500, { XDG_RUNTIME_DIR: dir }), { XDG_RUNTIME_DIR: dir, DBUS_SESSION_BUS_ADDRESS: `unix:path=${dir}/bus` });
});

t.test('permission errors of the file system become clear errors; others do not', async (t) => {
  let err: unknown;
  try {
    fs.readdirSync('/proc/1/fd/does-not-exist-either');
  } catch (e) {
    err = e;
  }
  t.equal(permissionError(err), undefined, 'ENOENT is not a permission error');
  const eacces = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES', syscall: 'scandir', path: '/root/.local/share/containers/sysctr' });
  const p = permissionError(eacces)!;
  t.ok(p instanceof SysctrError);
  t.equal(p.message, 'permission denied: cannot scandir /root/.local/share/containers/sysctr');
  t.equal(p.code, 1);
  t.equal(permissionError(new SysctrError('x')), undefined);
});

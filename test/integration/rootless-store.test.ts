/**
 * A plain user's store (docs/rootless.md): as a throw-away user with subordinate ranges, sysctr
 * pulls (from an OCI layout made by umoci and from a loopback registry) and checks out an image
 * whose files belong to root, 1000 and group 42, into ~/.local/share/containers/sysctr, without
 * root: on the host each file is owned by the id the user namespace maps it to (0 → the user,
 * N → subordinate base + N - 1), as podman's own rootless storage has it. A user with no ranges
 * gets an error naming /etc/subuid; an image with an owner outside the range is refused with
 * nothing stored; fsck, images list/info/delete/prune work as the user; nothing the user owns is
 * written outside their home. Run as root, which creates the users and removes them afterwards.
 */
import t from 'tap';
import { execa } from 'execa';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { sysctrBin } from '../helpers/cli.js';
import { containersTool } from '../helpers/builders.js';
import { buildImage, writeOciLayout } from '../helpers/images.js';
import { requirePrereqs } from '../helpers/prereq.js';
import { pushLayout, startRegistry, type Registry } from '../helpers/registry.js';

if (!requirePrereqs(t, ['useradd', 'userdel', 'setpriv', 'unshare', 'newuidmap', 'newgidmap', 'umoci', 'buildah', 'skopeo', 'docker-registry'])) process.exit(0);

// lower case: podman names an image pulled from oci:DIR after DIR, and refuses upper case
const work = path.join(os.tmpdir(), `sysctr-rl-${process.pid}-${Date.now().toString(36)}`);
fs.mkdirSync(work);
fs.chmodSync(work, 0o755); // the test users reach their homes and the layouts below it
const subFiles = ['/etc/subuid', '/etc/subgid'];
const before = subFiles.map((f) => fs.readFileSync(f, 'utf8'));
const users: string[] = [];

interface TestUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  /** the first subordinate uid and gid (container id 1) */
  subuid?: number;
  subgid?: number;
}

/** A user made here: with subordinate ranges as useradd gives them (login.defs), or with none. */
async function makeUser(suffix: string, subIds: boolean): Promise<TestUser> {
  const name = `sysctr-rl${suffix}${process.pid % 100000}`;
  const home = path.join(work, `home-${suffix}`);
  const noSub = subIds ? [] : ['-K', 'SUB_UID_COUNT=0', '-K', 'SUB_GID_COUNT=0'];
  await execa('useradd', ['-M', '-d', home, '-s', '/bin/sh', ...noSub, name]);
  users.push(name);
  const uid = Number((await execa('id', ['-u', name])).stdout);
  const gid = Number((await execa('id', ['-g', name])).stdout);
  fs.mkdirSync(home, { mode: 0o700 });
  fs.chownSync(home, uid, gid);
  const start = (file: string) => {
    const line = fs.readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
    return line ? Number(line.split(':')[1]) : undefined;
  };
  return { name, uid, gid, home, subuid: start('/etc/subuid'), subgid: start('/etc/subgid') };
}

/**
 * Ends what the test's users still run (rootless podman leaves a pause process holding its
 * namespace), by pid, then removes them; userdel removes their lines from /etc/subuid and /etc/subgid.
 */
async function removeUsers(): Promise<void> {
  for (const name of users.splice(0)) {
    const uid = Number((await execa('id', ['-u', name], { reject: false })).stdout);
    for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        if (new RegExp(`^Uid:\\s+${uid}\\s`, 'm').test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))) process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone already */
      }
    }
    await new Promise((r) => setTimeout(r, 200));
    const r = await execa('userdel', [name], { reject: false });
    if (r.exitCode !== 0) process.stderr.write(`userdel ${name}: ${r.stderr}\n`);
  }
}

t.teardown(async () => {
  await removeUsers();
  fs.rmSync(work, { recursive: true, force: true });
});

/**
 * A command as that user: real and effective ids, groups from /etc/group, a login's environment
 * (through env -i: tap adds its own variables to every child's environment).
 */
function asUserCmd(u: TestUser, cmd: string[], env: Record<string, string> = {}, input?: string) {
  const vars = Object.entries({ HOME: u.home, USER: u.name, LOGNAME: u.name, PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', ...env }).map(([k, v]) => `${k}=${v}`);
  return execa('setpriv', ['--reuid', String(u.uid), '--regid', String(u.gid), '--init-groups', '--', 'env', '-i', ...vars, ...cmd], { reject: false, input });
}

/** sysctr as that user. */
function asUser(u: TestUser, args: string[], input?: string) {
  return asUserCmd(u, [process.execPath, sysctrBin, ...args], {}, input);
}

/** Owners on the host as `stat` prints them. */
async function owners(file: string): Promise<string> {
  return (await execa('stat', ['-c', '%u:%g %a', file])).stdout;
}

let alice: TestUser;
let nosub: TestUser;
let stateRoot: string;
const layout = path.join(work, 'layout');
const wide = path.join(work, 'wide');
const built = path.join(work, 'built');
const marker = path.join(work, 'marker');
/** what a pull of oci:DIR:TAG names the image: localhost/DIR's base name:TAG */
const image = 'localhost/layout:rl-own';

t.before(async () => {
  alice = await makeUser('a', true);
  nosub = await makeUser('n', false);

  // The image, made by umoci the way a user would: files of root, of 1000 and of group 42.
  {
    await execa('umoci', ['init', '--layout', layout]);
    await execa('umoci', ['new', '--image', `${layout}:rl-own`]);
    const bundle = path.join(work, 'bundle');
    await execa('umoci', ['unpack', '--image', `${layout}:rl-own`, bundle]);
    const r = path.join(bundle, 'rootfs');
    fs.mkdirSync(path.join(r, 'srv/home1000/private'), { recursive: true });
    fs.mkdirSync(path.join(r, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(r, 'srv/root-file'), 'root\n', { mode: 0o644 });
    fs.writeFileSync(path.join(r, 'srv/home1000/private/secret'), 'user 1000 only\n', { mode: 0o600 });
    fs.writeFileSync(path.join(r, 'etc/shadow'), 'root:*:19000::::::\n', { mode: 0o640 });
    fs.symlinkSync('private/secret', path.join(r, 'srv/home1000/link'));
    fs.chmodSync(path.join(r, 'srv/home1000/private'), 0o700);
    for (const p of ['srv/home1000', 'srv/home1000/private', 'srv/home1000/private/secret']) fs.chownSync(path.join(r, p), 1000, 1000);
    fs.lchownSync(path.join(r, 'srv/home1000/link'), 1000, 1000);
    fs.chownSync(path.join(r, 'etc/shadow'), 0, 42);
    await execa('umoci', ['repack', '--image', `${layout}:rl-own`, bundle]);
    fs.chmodSync(layout, 0o755);
    await execa('chmod', ['-R', 'a+rX', layout]);
  }

  // The same owners from buildah: COPY --chown, pushed as an OCI layout.
  {
    const ctx = path.join(work, 'bctx');
    fs.mkdirSync(ctx);
    fs.writeFileSync(path.join(ctx, 'data'), 'of 1000, group 42\n', { mode: 0o640 });
    fs.writeFileSync(path.join(ctx, 'plain'), 'of root\n');
    fs.writeFileSync(path.join(ctx, 'Containerfile'), 'FROM scratch\nCOPY --chown=1000:42 data /srv/data\nCOPY plain /srv/plain\n');
    const buildah = containersTool('buildah', 'vfs', path.join(work, 'buildah'));
    await buildah(['bud', '--quiet', '-f', path.join(ctx, 'Containerfile'), '-t', 'rl-bld:1', ctx]);
    await buildah(['push', '--quiet', 'rl-bld:1', `oci:${built}:rl-bld`]);
    await execa('chmod', ['-R', 'a+rX', built]);
  }

  // An image with a file of uid 200000: beyond the 65536 ids useradd gives.
  writeOciLayout(wide, [{
    ref: 'rl-wide',
    image: buildImage({ layers: [{ entries: [{ path: 'srv', type: 'dir' }, { path: 'srv/ok', content: 'ok\n' }, { path: 'srv/far', content: 'far\n', uid: 200000, gid: 200000 }] }] }),
  }]);
  await execa('chmod', ['-R', 'a+rX', wide]);

  stateRoot = path.join(alice.home, '.local/share/containers/sysctr');
  fs.writeFileSync(marker, '');
  // mtimes of a second's resolution on some file systems: what follows is strictly newer
  await new Promise((r) => setTimeout(r, 1100));
});

t.test('pull and checkout as the user keep the image owners, mapped into the subordinate range', async (t) => {
  t.ok(alice.subuid !== undefined && alice.subgid !== undefined, `useradd gave ${alice.name} subordinate ranges (uid ${alice.subuid}, gid ${alice.subgid})`);
  t.equal(nosub.subuid, undefined, `${nosub.name} has no /etc/subuid line`);
  const pull = await asUser(alice, ['pull', '--user', `oci:${layout}:rl-own`]);
  t.equal(pull.exitCode, 0, `pull as ${alice.name}: ${pull.stderr}`);
  for (const d of [stateRoot, path.join(stateRoot, 'store')]) t.equal(await owners(d), `${alice.uid}:${alice.gid} 700`, `${d} is the user's and 0700`);

  const dest = path.join(alice.home, 'rootfs');
  const co = await asUser(alice, ['checkout', '--user', image, dest]);
  t.equal(co.exitCode, 0, `checkout: ${co.stderr}`);
  const base = alice.subuid! - 1; // container id N is base + N for N >= 1
  const gbase = alice.subgid! - 1;
  t.equal(await owners(path.join(dest, 'srv/root-file')), `${alice.uid}:${alice.gid} 644`, 'a file of root is the user\'s');
  t.equal(await owners(path.join(dest, 'srv/home1000/private/secret')), `${base + 1000}:${gbase + 1000} 600`, 'a file of 1000 is subordinate base + 999');
  t.equal(await owners(path.join(dest, 'srv/home1000/private')), `${base + 1000}:${gbase + 1000} 700`, 'so is its directory');
  t.equal(await owners(path.join(dest, 'etc/shadow')), `${alice.uid}:${gbase + 42} 640`, 'group 42 is subordinate gid base + 41');
  t.equal((await execa('stat', ['-c', '%u:%g', path.join(dest, 'srv/home1000/link')])).stdout, `${base + 1000}:${gbase + 1000}`, 'a symlink keeps its owner');

  // what podman itself, rootless as the same user, stores for the same image
  const p = path.join(alice.home, 'podman');
  const runDir = path.join(work, `run-${alice.uid}`);
  fs.mkdirSync(runDir, { mode: 0o700 });
  fs.chownSync(runDir, alice.uid, alice.gid);
  const podman = await asUserCmd(alice, ['podman', '--root', `${p}/root`, '--runroot', `${p}/run`, '--storage-driver', 'vfs', '--events-backend', 'none',
    '--cgroup-manager', 'cgroupfs', 'pull', '-q', `oci:${layout}:rl-own`], { XDG_RUNTIME_DIR: runDir, TMPDIR: runDir });
  if (podman.exitCode !== 0) {
    t.comment(`podman rootless pull did not work here as ${alice.name} (${podman.stderr.trim().split('\n').pop()}); compared with the mapping formula only`);
  } else {
    const layers = path.join(p, 'root/vfs/dir');
    const dir = fs.readdirSync(layers).map((d) => path.join(layers, d)).find((d) => fs.existsSync(path.join(d, 'etc/shadow')));
    t.ok(dir, 'podman unpacked the image');
    for (const f of ['srv/root-file', 'srv/home1000/private/secret', 'srv/home1000/private', 'etc/shadow']) {
      t.equal(await owners(path.join(dest, f)), await owners(path.join(dir!, f)), `${f}: owned as in podman's rootless storage`);
    }
  }
  fs.rmSync(p, { recursive: true, force: true });
});

t.test('an image built by buildah: COPY --chown=1000:42 lands on subordinate base + 999 and gid base + 41', async (t) => {
  const pull = await asUser(alice, ['pull', '--user', `oci:${built}:rl-bld`]);
  t.equal(pull.exitCode, 0, `pull: ${pull.stderr}`);
  const dest = path.join(alice.home, 'rootfs-bld');
  const co = await asUser(alice, ['checkout', '--user', 'localhost/built:rl-bld', dest]);
  t.equal(co.exitCode, 0, `checkout: ${co.stderr}`);
  t.equal((await owners(path.join(dest, 'srv/data'))).split(' ')[0], `${alice.subuid! + 999}:${alice.subgid! + 41}`);
  t.equal((await owners(path.join(dest, 'srv/plain'))).split(' ')[0], `${alice.uid}:${alice.gid}`);
});

t.test('a store named with --root is the user\'s own too: the same namespace', async (t) => {
  const root = path.join(alice.home, 'other-root');
  const pull = await asUser(alice, ['pull', '--root', root, `oci:${layout}:rl-own`]);
  t.equal(pull.exitCode, 0, `pull --root: ${pull.stderr}`);
  const dest = path.join(alice.home, 'rootfs-root');
  const co = await asUser(alice, ['checkout', '--root', root, image, dest]);
  t.equal(co.exitCode, 0, `checkout --root: ${co.stderr}`);
  t.equal(await owners(path.join(dest, 'srv/home1000/private/secret')), `${alice.subuid! + 999}:${alice.subgid! + 999} 600`, 'a file of 1000 is subordinate base + 999');
  t.equal(await owners(root), `${alice.uid}:${alice.gid} 700`);
});

t.test('a loopback registry, then images list/info/delete/prune and fsck as the user', async (t) => {
  let reg: Registry | undefined;
  try {
    reg = await startRegistry();
    await pushLayout(layout, 'rl-own', `${reg.host}/rl-reg:1`);
    const pull = await asUser(alice, ['pull', '--user', '--tls-verify=false', `docker://${reg.host}/rl-reg:1`]);
    t.equal(pull.exitCode, 0, `registry pull: ${pull.stderr}`);
  } finally {
    await reg?.stop();
  }
  const list = await asUser(alice, ['images', 'list', '--user']);
  t.equal(list.exitCode, 0, list.stderr);
  t.equal(list.stdout.split('\n').filter((l) => /rl-own|rl-reg/.test(l)).length, 2, `two images listed:\n${list.stdout}`);
  const info = await asUser(alice, ['images', 'info', '--user', image]);
  t.equal(info.exitCode, 0, `images info: ${info.stderr}`);
  const names = await asUser(alice, ['images', 'list', '--user', '--json']);
  const imgs = JSON.parse(names.stdout) as Array<{ name?: string; names?: string[] }>;
  const all = JSON.stringify(imgs);
  t.match(all, /rl-own/, 'the layout image is listed');
  t.match(all, /rl-reg/, 'the registry image is listed');

  const fsck = await asUser(alice, ['fsck', '--user']);
  t.equal(fsck.exitCode, 0, `fsck as the user finds the store sound: ${fsck.stdout}${fsck.stderr}`);

  const del = await asUser(alice, ['images', 'delete', '--user', image]);
  t.equal(del.exitCode, 0, `delete: ${del.stderr}`);
  const prune = await asUser(alice, ['images', 'prune', '--user']);
  t.equal(prune.exitCode, 0, `prune: ${prune.stderr}`);
  const after = await asUser(alice, ['images', 'list', '--user', '--json']);
  t.notMatch(after.stdout, /rl-own/, 'deleted');
  t.match(after.stdout, /rl-reg/, 'the other image is kept');
  const fsck2 = await asUser(alice, ['fsck', '--user']);
  t.equal(fsck2.exitCode, 0, `fsck after prune: ${fsck2.stdout}${fsck2.stderr}`);
});

t.test('a signal to sysctr ends the command it runs in the namespace, with its status', async (t) => {
  // a registry that accepts connections and never answers: the pull waits inside the namespace
  const silent = net.createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as net.AddressInfo).port;
  try {
    const p = asUser(alice, ['pull', '--user', '--tls-verify=false', `docker://127.0.0.1:${port}/rl-silent:1`]);
    const inner = async () => (await execa('pgrep', ['-u', String(alice.uid), '-f', 'rl-silent'], { reject: false })).stdout.split('\n').filter(Boolean);
    for (let i = 0; i < 50 && (await inner()).length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    t.equal((await inner()).length, 2, 'sysctr and the sysctr it started in the namespace');
    p.kill('SIGTERM');
    const r = await p;
    t.equal(r.exitCode, 143, 'the status of a command ended by SIGTERM (128 + 15), passed on');
    await new Promise((r) => setTimeout(r, 300));
    t.same(await inner(), [], 'nothing left running');
  } finally {
    silent.close();
  }
});

t.test('an owner outside the mapped range is refused, naming the id, the file and the range; nothing stored', async (t) => {
  const objects = path.join(stateRoot, 'store/objects');
  const count = () => fs.readdirSync(objects).reduce((n, d) => n + fs.readdirSync(path.join(objects, d)).length, 0);
  const n0 = count();
  const r = await asUser(alice, ['pull', '--user', `oci:${wide}:rl-wide`]);
  t.equal(r.exitCode, 1, 'exit 1');
  t.match(r.stderr, /uid 200000/, 'names the id');
  t.match(r.stderr, /srv\/far/, 'names the file');
  t.match(r.stderr, /0-65536/, 'names the range');
  t.match(r.stderr, /insufficient UIDs or GIDs/, 'in the words podman uses');
  t.match(r.stderr, `hint: a range of more ids in /etc/subuid covers it (as root: usermod --add-subuids START-END ${alice.name})`, 'the fix, for this user');
  t.equal(count(), n0, 'no object was left behind (srv/ok came before srv/far)');
  const list = await asUser(alice, ['images', 'list', '--user', '--json']);
  t.notMatch(list.stdout, /rl-wide/, 'no image recorded');
});

t.test('a user with no subordinate ids: an error naming /etc/subuid and the fix, nothing written', async (t) => {
  const r = await asUser(nosub, ['pull', '--user', `oci:${layout}:rl-own`]);
  t.equal(r.exitCode, 1, 'exit 1');
  t.match(r.stderr, /\/etc\/subuid/, 'names /etc/subuid');
  t.match(r.stderr, new RegExp(`usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${nosub.name}`), 'and the command that adds a range');
  t.same(fs.readdirSync(nosub.home), [], 'nothing written in the home');
});

t.test('nothing owned by the user or their subordinate ids was written outside their home', async (t) => {
  const r = await execa('find', ['/', '-xdev', '-newer', marker, '(', '-path', '/proc', '-o', '-path', '/sys', '-o', '-path', '/run/user', '-o', '-path', work, ')', '-prune', '-o', '-printf', '%U %G %p\\n'], { reject: false });
  const ours = (id: number, base?: number) => id === alice.uid || id === nosub.uid || (base !== undefined && id >= base && id < base + 65536);
  const stray = r.stdout.split('\n').filter(Boolean).filter((l) => {
    const [u, g] = l.split(' ').map(Number);
    return ours(u, alice.subuid) || ours(g, alice.subgid);
  });
  t.same(stray, [], 'no file of theirs outside the test directory');
});

t.test('/etc/subuid and /etc/subgid are as they were once the users are gone', async (t) => {
  await removeUsers();
  subFiles.forEach((f, i) => {
    const now = fs.readFileSync(f, 'utf8');
    t.notMatch(now, /^sysctr-rl[an]\d/m, `${f} has no line of this test's users`);
    if (now !== before[i]) t.comment(`${f} changed meanwhile, by another user of this machine`);
    else t.pass(`${f} restored exactly`);
  });
});

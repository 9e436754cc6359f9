/**
 * Import from local sources and checkout, through the CLI as a user runs it, against a
 * store on disk. Needs root (owners) and zstd.
 */
import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectDir, sysctr } from '../helpers/cli.js';
import { buildImage, busyboxEntries, entriesFromDir, writeDockerArchive, writeOciArchive, writeOciLayout, type TarEntry } from '../helpers/images.js';
import { requirePrereqs } from '../helpers/prereq.js';

if (!requirePrereqs(t, ['zstd'])) process.exit(0);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-import-'));
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
let n = 0;
const newRoot = () => path.join(work, `root${n++}`);
const run = (root: string, args: string[]) => sysctr(args, { env: { SYSCTR_ROOT: root } });

// The image's layers come from fixtures/layers/multi/ (see its README); what git cannot hold
// (owners, setuid, a hardlink, a fifo, a device node, the busybox payload) is added here.
const fixture = (layer: string) => entriesFromDir(path.join(projectDir, 'fixtures/layers/multi', layer));
const owned = (e: TarEntry): TarEntry =>
  e.path === 'data' ? { ...e, mode: 0o750, uid: 1000, gid: 1001 }
    : e.path === 'data/owned' ? { ...e, mode: 0o640, uid: 1000, gid: 1001 }
      : e.path === 'data/setuid' ? { ...e, mode: 0o4755 }
        : e;
const base: TarEntry[] = [
  ...busyboxEntries(['sh', 'cat']),
  ...fixture('1-base').map(owned),
  { path: 'data/hard', type: 'hardlink', target: 'data/owned' },
  { path: 'dev', type: 'dir' },
  { path: 'dev/fifo', type: 'fifo' },
  { path: 'dev/null', type: 'chardev', mode: 0o666 },
];
const top = fixture('2-top');
// Only the file: a "lib/" directory entry would replace the symlink (Docker's rule), not follow it.
const third = fixture('3-through-link').filter((e) => e.type !== 'dir');

function multiLayer(compression: 'gzip' | 'zstd' | 'none' = 'gzip') {
  return buildImage({
    layers: [
      { entries: base, compression },
      { entries: top, compression },
      { entries: third, compression },
    ],
    config: { Cmd: ['/bin/sh'], Labels: { 'atomic.type': 'system' } },
  });
}

function checkTree(t: Test, dir: string, root: string) {
  const rd = (p: string) => fs.readFileSync(path.join(dir, p), 'utf8');
  t.equal(rd('etc/hostname'), 'top\n', 'upper layer replaces a file');
  t.notOk(fs.existsSync(path.join(dir, 'etc/removed')), 'whiteout removes a lower file');
  t.notOk(fs.existsSync(path.join(dir, 'etc/.wh.removed')), 'whiteouts are not materialised');
  t.same(fs.readdirSync(path.join(dir, 'opaque')).sort(), ['upper'], 'opaque directory hides lower children');
  const owned = fs.lstatSync(path.join(dir, 'data/owned'));
  t.equal(owned.uid, 1000);
  t.equal(owned.gid, 1001);
  t.equal(owned.mode & 0o7777, 0o640);
  const d = fs.lstatSync(path.join(dir, 'data'));
  t.equal(d.mode & 0o7777, 0o750, 'directory mode');
  t.equal(d.uid, 1000, 'directory owner');
  t.equal(fs.lstatSync(path.join(dir, 'data/setuid')).mode & 0o7777, 0o4755, 'setuid bit kept');
  t.equal(fs.readlinkSync(path.join(dir, 'data/link')), '../etc/hostname', 'symlink target as in the image');
  t.equal(fs.lstatSync(path.join(dir, 'data/hard')).ino, owned.ino, 'hardlink entry is the same inode');
  t.equal(rd('usr/lib/through-symlink'), 'lands in usr/lib\n', 'entry below a symlinked dir lands where it points');
  t.notOk(fs.existsSync(path.join(dir, 'dev/fifo')), 'fifo skipped');
  t.notOk(fs.existsSync(path.join(dir, 'dev/null')), 'device node skipped');
  // hardlinked from the store: more than one link, and the inode is a store object
  t.ok(fs.lstatSync(path.join(dir, 'bin/busybox')).nlink >= 2, 'regular file hardlinked to its object');
  const empty = fs.lstatSync(path.join(dir, 'etc/empty'));
  t.equal(empty.nlink, 1, 'zero-size file copied, not linked');
  const objects = path.join(root, 'store/objects');
  t.ok(fs.existsSync(objects), 'store has objects');
}

t.test('oci: multi-layer gzip image with whiteouts, opaque dir, owners, links', async (t) => {
  const layout = path.join(work, 'layout-gzip');
  writeOciLayout(layout, [{ image: multiLayer('gzip'), ref: 'v1' }]);
  const root = newRoot();
  const r = await run(root, ['pull', `oci:${layout}:v1`]);
  t.equal(r.exitCode, 0, r.stderr);
  t.match(r.stdout, /localhost\/layout-gzip:v1|layout-gzip:v1/);
  const dir = path.join(work, 'co-gzip');
  const c = await run(root, ['checkout', 'layout-gzip:v1', dir]);
  t.equal(c.exitCode, 0, c.stderr);
  t.match(c.stdout, /2 device nodes\/fifos\/sockets skipped/);
  checkTree(t, dir, root);
  // a second checkout shares the inodes: no new file data
  const dir2 = path.join(work, 'co-gzip2');
  t.equal((await run(root, ['checkout', 'layout-gzip:v1', dir2])).exitCode, 0);
  t.equal(fs.statSync(path.join(dir2, 'bin/busybox')).ino, fs.statSync(path.join(dir, 'bin/busybox')).ino, 'second checkout links the same object');
});

for (const compression of ['zstd', 'none'] as const) {
  t.test(`oci: ${compression} layers`, async (t) => {
    const layout = path.join(work, `layout-${compression}`);
    writeOciLayout(layout, [{ image: multiLayer(compression), ref: 'v1' }]);
    const root = newRoot();
    const r = await run(root, ['pull', `oci:${layout}:v1`]);
    t.equal(r.exitCode, 0, r.stderr);
    const dir = path.join(work, `co-${compression}`);
    t.equal((await run(root, ['checkout', `layout-${compression}:v1`, dir])).exitCode, 0);
    checkTree(t, dir, root);
  });
}

t.test('oci-archive, docker-archive (legacy and OCI layouts) and dockertar', async (t) => {
  const img = multiLayer('gzip');
  const root = newRoot();
  const ociTar = path.join(work, 'app.oci.tar');
  await writeOciArchive(ociTar, [{ image: img, ref: '2.0' }]);
  let r = await run(root, ['pull', `oci-archive:${ociTar}`]);
  t.equal(r.exitCode, 0, r.stderr);
  t.match(r.stdout, /app:2\.0/);
  const legacy = path.join(work, 'legacy.tar');
  await writeDockerArchive(legacy, img, ['example.org/team/app:1.0'], 'legacy');
  r = await run(root, ['pull', `docker-archive:${legacy}`]);
  t.equal(r.exitCode, 0, r.stderr);
  t.match(r.stdout, /example\.org\/team\/app:1\.0/);
  const newer = path.join(work, 'newer.tar');
  await writeDockerArchive(newer, img, ['app:3.0'], 'oci');
  r = await run(root, ['pull', `dockertar:${newer}`]);
  t.equal(r.exitCode, 0, r.stderr);
  const list = await run(root, ['images', 'list', '--json']);
  const names = JSON.parse(list.stdout).map((i: { name: string }) => i.name).sort();
  t.same(names, ['docker.io/library/app:3.0', 'example.org/team/app:1.0', 'localhost/app:2.0']);
  const ids = new Set(JSON.parse(list.stdout).map((i: { id: string }) => i.id));
  t.equal(ids.size, 1, 'the same image by three routes has one id');
  for (const name of ['app:3.0', 'example.org/team/app:1.0']) {
    const dir = path.join(work, `co-${name.replace(/\W/g, '_')}`);
    t.equal((await run(root, ['checkout', name, dir])).exitCode, 0);
    checkTree(t, dir, root);
  }
});

t.test('several images in a layout without a ref: the error lists the refs', async (t) => {
  const layout = path.join(work, 'layout-multi');
  const a = buildImage({ layers: [{ entries: [{ path: 'a', content: 'a' }] }] });
  const b = buildImage({ layers: [{ entries: [{ path: 'b', content: 'b' }] }] });
  writeOciLayout(layout, [{ image: a, ref: 'alpha' }, { image: b, ref: 'beta' }]);
  const r = await run(newRoot(), ['pull', `oci:${layout}`]);
  t.equal(r.exitCode, 1);
  t.match(r.stderr, /holds 2 images/);
  t.match(r.stderr, /alpha, beta/);
});

t.test('images list / info / tag / delete / prune', async (t) => {
  const root = newRoot();
  const layout = path.join(work, 'layout-info');
  const exportsEntries: TarEntry[] = [
    { path: 'exports', type: 'dir' },
    { path: 'exports/manifest.json', content: JSON.stringify({ defaultValues: { PORT: '8080' } }) },
    { path: 'exports/service.template', content: '[Service]\nExecStart=$EXEC_START\nEnvironment=PORT=$PORT MSG=${MESSAGE}\n' },
  ];
  writeOciLayout(layout, [{ image: buildImage({ layers: [{ entries: [...busyboxEntries(['sh']), ...exportsEntries] }], config: { Labels: { 'atomic.type': 'system', maintainer: 'me' } } }), ref: '1' }]);
  t.equal((await run(root, ['pull', `oci:${layout}:1`])).exitCode, 0);
  const info = await run(root, ['images', 'info', 'layout-info:1', '--json']);
  t.equal(info.exitCode, 0, info.stderr);
  const j = JSON.parse(info.stdout);
  t.equal(j.name, 'localhost/layout-info:1');
  t.match(j.id, /^sha256:[0-9a-f]{64}$/);
  t.equal(j.labels['atomic.type'], 'system');
  t.same(j.required, ['MESSAGE'], 'MESSAGE has no default and must be set');
  t.equal(j.variables.find((v: { name: string }) => v.name === 'PORT').default, '8080');
  const text = await run(root, ['images', 'info', 'layout-info:1']);
  t.match(text.stdout, /MESSAGE\s+MUST BE SET/);
  t.equal((await run(root, ['images', 'tag', 'layout-info:1', 'example.org/x:2'])).exitCode, 0);
  const q = await run(root, ['images', 'list', '-q']);
  t.equal(q.stdout.trim().split('\n').length, 1, '-q prints each id once');
  const f = await run(root, ['images', 'list', '-f', 'repo=example.org/*', '--json']);
  t.same(JSON.parse(f.stdout).map((i: { name: string }) => i.name), ['example.org/x:2']);
  const bad = await run(root, ['images', 'list', '-f', 'colour=red']);
  t.equal(bad.exitCode, 2, 'unknown filter key is a usage error');
  const table = await run(root, ['images', 'list']);
  t.match(table.stdout, /^REPOSITORY\s+TAG\s+IMAGE ID/);
  t.equal((await run(root, ['images', 'delete', 'layout-info:1'])).exitCode, 0);
  t.equal((await run(root, ['checkout', 'example.org/x:2', path.join(work, 'co-tagged')])).exitCode, 0, 'content kept for the other name');
  const del = await run(root, ['images', 'delete', 'example.org/x:2']);
  t.match(del.stdout, /freed 1 layers/);
  t.same(fs.readdirSync(path.join(root, 'store/layers')), [], 'no layers left');
  const missing = await run(root, ['images', 'info', 'nothere:1']);
  t.equal(missing.exitCode, 1);
  t.match(missing.stderr, /image nothere:1 is not in the store/);
});

t.test('two concurrent pulls of images sharing layers both succeed', async (t) => {
  const root = newRoot();
  const shared: TarEntry[] = [...busyboxEntries(['sh']), { path: 'shared', content: 'x'.repeat(100000) }];
  const a = buildImage({ layers: [{ entries: shared }, { entries: [{ path: 'a', content: 'a' }] }] });
  const b = buildImage({ layers: [{ entries: shared }, { entries: [{ path: 'b', content: 'b' }] }] });
  writeOciLayout(path.join(work, 'conc-a'), [{ image: a, ref: '1' }]);
  writeOciLayout(path.join(work, 'conc-b'), [{ image: b, ref: '1' }]);
  const [ra, rb] = await Promise.all([run(root, ['pull', `oci:${path.join(work, 'conc-a')}:1`]), run(root, ['pull', `oci:${path.join(work, 'conc-b')}:1`])]);
  t.equal(ra.exitCode, 0, ra.stderr);
  t.equal(rb.exitCode, 0, rb.stderr);
  t.equal(fs.readdirSync(path.join(root, 'store/layers')).length, 3, 'the shared layer is stored once');
  const fsck = await run(root, ['fsck']);
  t.equal(fsck.exitCode, 0, fsck.stdout);
});

t.test('fsck finds a damaged object; --repair removes it and the image that needs it', async (t) => {
  const root = newRoot();
  const layout = path.join(work, 'layout-fsck');
  writeOciLayout(layout, [{ image: buildImage({ layers: [{ entries: [{ path: 'f1', content: 'one\n' }, { path: 'f2', content: 'two\n' }] }] }), ref: '1' }]);
  t.equal((await run(root, ['pull', `oci:${layout}:1`])).exitCode, 0);
  let r = await run(root, ['fsck']);
  t.equal(r.exitCode, 0);
  t.match(r.stdout, /checked 2 objects, 1 layers, 1 images: no problems/);
  // damage one object's content, another's metadata
  const objs: string[] = [];
  for (const d of fs.readdirSync(path.join(root, 'store/objects'))) for (const f of fs.readdirSync(path.join(root, 'store/objects', d))) objs.push(path.join(root, 'store/objects', d, f));
  fs.writeFileSync(objs[0], 'evil\n');
  fs.chmodSync(objs[1], 0o777);
  r = await run(root, ['fsck']);
  t.equal(r.exitCode, 1);
  t.equal((r.stdout.match(/object-damaged/g) ?? []).length, 2, 'both objects reported');
  t.match(r.stdout, /images: localhost\/layout-fsck:1/);
  r = await run(root, ['fsck', '--repair']);
  t.equal(r.exitCode, 0);
  t.match(r.stdout, /removed 2 objects, 1 layers, 1 images/);
  t.equal((await run(root, ['fsck'])).exitCode, 0, 'clean after repair');
  t.equal((await run(root, ['pull', `oci:${layout}:1`])).exitCode, 0, 'pull again after repair');
});

t.test('a killed import leaves nothing visible and the next pull completes', async (t) => {
  const root = newRoot();
  const layout = path.join(work, 'layout-kill');
  const big: TarEntry[] = [];
  for (let i = 0; i < 400; i++) big.push({ path: `f${i}`, content: `${i}`.repeat(20000) + Math.random() });
  writeOciLayout(layout, [{ image: buildImage({ layers: [{ entries: big, compression: 'gzip' }] }), ref: '1' }]);
  const { execa } = await import('execa');
  const { sysctrBin } = await import('../helpers/cli.js');
  const p = execa(process.execPath, [sysctrBin, 'pull', `oci:${layout}:1`], { env: { SYSCTR_ROOT: root }, reject: false });
  // kill once objects start appearing
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    const tmp = path.join(root, 'store/tmp');
    if (fs.existsSync(path.join(root, 'store/objects/ff')) && fs.existsSync(tmp)) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  await new Promise((r) => setTimeout(r, 60));
  p.kill('SIGKILL');
  const res = await p;
  t.ok(res.signal === 'SIGKILL' || res.exitCode === 0, 'killed (or it finished first)');
  const list = await run(root, ['images', 'list', '--json']);
  const names = JSON.parse(list.stdout).map((i: { name: string }) => i.name);
  if (res.signal === 'SIGKILL') t.same(names, [], 'no reference to a half-imported image');
  t.same(fs.readdirSync(path.join(root, 'store/layers')).filter((x) => !x.startsWith('.')), names.length ? fs.readdirSync(path.join(root, 'store/layers')) : [], 'no half layer visible');
  t.equal((await run(root, ['fsck'])).exitCode, 0, 'no partial object');
  const again = await run(root, ['pull', `oci:${layout}:1`]);
  t.equal(again.exitCode, 0, again.stderr);
  t.equal((await run(root, ['checkout', 'layout-kill:1', path.join(work, 'co-kill')])).exitCode, 0);
  t.equal(fs.readdirSync(path.join(work, 'co-kill')).length, 400);
  t.same(fs.readdirSync(path.join(root, 'store/tmp')), [], 'temp files of the killed pull cleaned');
});

t.test('images update re-pulls a reference; delete refuses an image a deployment uses', async (t) => {
  const root = newRoot();
  const layout = path.join(work, 'layout-upd');
  const v1 = buildImage({ layers: [{ entries: [{ path: 'v', content: '1' }] }] });
  writeOciLayout(layout, [{ image: v1, ref: 'stable' }]);
  t.equal((await run(root, ['pull', `oci:${layout}:stable`])).exitCode, 0);
  let r = await run(root, ['images', 'update', 'layout-upd:stable']);
  t.equal(r.exitCode, 0, r.stderr);
  t.match(r.stdout, /layout-upd:stable: up to date/);
  fs.rmSync(layout, { recursive: true });
  const v2 = buildImage({ layers: [{ entries: [{ path: 'v', content: '2' }] }] });
  writeOciLayout(layout, [{ image: v2, ref: 'stable' }]);
  r = await run(root, ['images', 'update', 'layout-upd:stable']);
  t.equal(r.exitCode, 0, r.stderr);
  t.match(r.stdout, /layout-upd:stable: updated [0-9a-f]{12} -> [0-9a-f]{12} \(1 layers fetched\)/);
  t.equal(JSON.parse((await run(root, ['images', 'info', 'layout-upd:stable', '--json'])).stdout).id, v2.config.digest);
  t.equal((await run(root, ['images', 'update'])).exitCode, 2, 'IMAGE or --all is required');

  // A deployment (as install writes it: ROOT/NAME -> NAME.0 with an info file) uses v2.
  fs.mkdirSync(path.join(root, 'web.0'), { recursive: true });
  fs.writeFileSync(path.join(root, 'web.0/info'), JSON.stringify({ name: 'web', image: 'localhost/layout-upd:stable', imageId: v2.config.digest }));
  fs.symlinkSync('web.0', path.join(root, 'web'));
  r = await run(root, ['images', 'update', '--all']);
  t.match(r.stdout, /layout-upd:stable: up to date/, '--all updates the images installed containers use');
  r = await run(root, ['images', 'delete', 'layout-upd:stable']);
  t.equal(r.exitCode, 1);
  t.match(r.stderr, /image localhost\/layout-upd:stable is used by web\.0/);
  r = await run(root, ['images', 'delete', '--force', 'layout-upd:stable']);
  t.equal(r.exitCode, 0, r.stderr);
  t.match(r.stdout, /kept sha256:[0-9a-f]{64} \(unnamed\)/);
  r = await run(root, ['images', 'prune']);
  t.match(r.stdout, /removed 0 unnamed images/, 'prune keeps what a deployment uses');
  t.equal(fs.readdirSync(path.join(root, 'store/layers')).length, 1, "the deployment's layer is kept");
  fs.rmSync(path.join(root, 'web'));
  r = await run(root, ['images', 'prune']);
  t.match(r.stdout, /removed 1 unnamed images, 1 layers/, 'and removes it once nothing uses it');
});

/**
 * Bad input for pull and checkout: each gets one clear line naming the problem, exit 1,
 * and the store is exactly as before (every file, size and inode).
 */
import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { sysctr } from '../helpers/cli.js';
import { buildImage, busyboxEntries, writeOciLayout, type LayerSpec, type TarEntry } from '../helpers/images.js';
import { requirePrereqs } from '../helpers/prereq.js';
import { snapshot } from '../helpers/store-snapshot.js';

if (!requirePrereqs(t, ['zstd'])) process.exit(0);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-bad-'));
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
const root = path.join(work, 'root');
const run = (args: string[]) => sysctr(args, { env: { SYSCTR_ROOT: root } });

// A store that already holds an image sharing the busybox layer, so "unchanged" is tested
// against a real store, not an empty one.
const good = buildImage({ layers: [{ entries: busyboxEntries(['sh']) }] });
t.before(async () => {
  writeOciLayout(path.join(work, 'good'), [{ image: good, ref: '1' }]);
  const r = await run(['pull', `oci:${path.join(work, 'good')}:1`]);
  if (r.exitCode !== 0) throw new Error(r.stderr);
});

let n = 0;
function layoutWith(layers: LayerSpec[], mutate?: (dir: string) => void): string {
  const dir = path.join(work, `bad${n++}`);
  writeOciLayout(dir, [{ image: buildImage({ layers: [{ entries: busyboxEntries(['sh']) }, ...layers] }), ref: '1' }]);
  mutate?.(dir);
  return `oci:${dir}:1`;
}

async function refused(t: Test, source: string, message: RegExp, code = 1) {
  const before = snapshot(root);
  const r = await run(['pull', source]);
  t.equal(r.exitCode, code, `exit ${code}`);
  t.match(r.stderr, message);
  t.equal(r.stderr.split('\n').filter((l) => l.startsWith('sysctr:')).length, 1, 'one error line');
  t.notMatch(r.stderr, /internal error|    at /, 'no stack trace');
  t.same(snapshot(root), before, 'store unchanged');
}

const file = (p: string, content = 'x'): TarEntry => ({ path: p, content });

t.test('a tar entry with ".."', (t) => refused(t, layoutWith([{ entries: [file('../escape')] }]), /"\.\.\/escape" climbs out of the root/));
// "/etc/x" is taken relative to the root, as umoci does (test/integration/tar-dialects.test.ts); climbing from it is not
t.test('an absolute tar entry that climbs with ".."', (t) => refused(t, layoutWith([{ entries: [file('/../etc/evil')] }]), /"\/\.\.\/etc\/evil" climbs out of the root/));
t.test('a symlink followed by an entry written through it outside the root', (t) =>
  refused(t, layoutWith([{ entries: [{ path: 'esc', type: 'symlink', target: '../../../../tmp' }, file('esc/pwned')] }]), /through symlink "esc" -> "\.\.\/\.\.\/\.\.\/\.\.\/tmp", outside the root/));
t.test('a symlink in one layer and an entry through it in the next', (t) =>
  refused(t, layoutWith([{ entries: [{ path: 'esc', type: 'symlink', target: '../..' }] }, { entries: [file('esc/pwned')] }]), /outside the root filesystem/));
t.test('a hardlink pointing outside', (t) =>
  refused(t, layoutWith([{ entries: [{ path: 'h', type: 'hardlink', target: '../../etc/shadow' }] }]), /hardlink target of "h" "\.\.\/\.\.\/etc\/shadow" climbs out/));
t.test('a blob whose digest does not match', (t) =>
  refused(t, layoutWith([{ entries: [file('a')], corrupt: (b) => { const c = Buffer.from(b); c[c.length - 12] ^= 0xff; return c; } }]), /(does not match its digest|truncated or corrupt)/));
t.test('a blob replaced by another valid layer', (t) => {
  const other = buildImage({ layers: [{ entries: [file('other')] }] }).layers[0].bytes;
  return refused(t, layoutWith([{ entries: [file('a')], corrupt: () => other }]), /layer sha256:[0-9a-f]{64}: content does not match its digest \(got sha256:/);
});
t.test('a truncated gzip stream', (t) => refused(t, layoutWith([{ entries: [file('big', crypto.randomBytes(50000).toString('hex'))], truncateTo: 2000 }]), /gzip stream is truncated or corrupt/));
t.test('a truncated zstd stream', (t) =>
  refused(t, layoutWith([{ entries: [file('big', crypto.randomBytes(50000).toString('hex'))], compression: 'zstd', truncateTo: 2000 }]), /(zstd stream is truncated or corrupt|does not match)/));
t.test('a missing blob', (t) =>
  refused(t, layoutWith([{ entries: [file('a')] }], (dir) => {
    const idx = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'blobs/sha256', idx.manifests[0].digest.slice(7)), 'utf8'));
    fs.rmSync(path.join(dir, 'blobs/sha256', m.layers[1].digest.slice(7)));
  }), /blob sha256:[0-9a-f]{64} is missing/));
t.test('an index.json that is not JSON', (t) => refused(t, layoutWith([], (dir) => fs.writeFileSync(path.join(dir, 'index.json'), '{ nope')), /index\.json is not JSON/));
t.test('a manifest that is not JSON', (t) =>
  refused(t, layoutWith([], (dir) => {
    const bytes = Buffer.from('not json at all');
    const digest = 'sha256:' + crypto.createHash('sha256').update(bytes).digest('hex');
    fs.writeFileSync(path.join(dir, 'blobs/sha256', digest.slice(7)), bytes);
    fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: bytes.length, annotations: { 'org.opencontainers.image.ref.name': '1' } }] }));
  }), /manifest sha256:[0-9a-f]{64} is not JSON/));
function withManifest(doc: object, mediaType: string) {
  return (dir: string) => {
    const bytes = Buffer.from(JSON.stringify(doc));
    const digest = 'sha256:' + crypto.createHash('sha256').update(bytes).digest('hex');
    fs.writeFileSync(path.join(dir, 'blobs/sha256', digest.slice(7)), bytes);
    fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType, digest, size: bytes.length, annotations: { 'org.opencontainers.image.ref.name': '1' } }] }));
  };
}
t.test('a manifest with the wrong media type', (t) =>
  refused(t, layoutWith([], withManifest({ schemaVersion: 2, mediaType: 'application/vnd.example.thing+json', config: good.manifest, layers: [] }, 'application/vnd.example.thing+json')), /unsupported manifest media type "application\/vnd\.example\.thing\+json"/));
t.test('an index.json with the wrong media type', (t) =>
  refused(t, layoutWith([], (dir) => {
    const idx = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
    fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ ...idx, mediaType: 'application/vnd.docker.distribution.manifest.v2+json' }));
  }), /index\.json has media type application\/vnd\.docker\.distribution\.manifest\.v2\+json/));
t.test('a schema-1 manifest', (t) =>
  refused(t, layoutWith([], withManifest({ schemaVersion: 1, name: 'x', tag: '1', fsLayers: [], history: [] }, 'application/vnd.docker.distribution.manifest.v1+prettyjws')), /schema 1 manifests are not supported/));
t.test('an unknown transport prefix', (t) => refused(t, 'ftp://example.org/image', /unknown transport "ftp:"/));
t.test('an unsupported transport', (t) => refused(t, 'containers-storage:foo', /transport "containers-storage:" is not supported/));
t.test('a file that is not there', (t) => refused(t, `oci-archive:${path.join(work, 'nothere.tar')}`, /no such file/));

t.test('a checkout target that exists and is not empty', async (t) => {
  const dir = path.join(work, 'full');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'keep'), 'mine');
  const r = await run(['checkout', 'good:1', dir]);
  t.equal(r.exitCode, 1);
  t.match(r.stderr, /checkout target .*full exists and is not empty/);
  t.same(fs.readdirSync(dir), ['keep'], 'target untouched');
  const empty = path.join(work, 'empty');
  fs.mkdirSync(empty);
  t.equal((await run(['checkout', 'good:1', empty])).exitCode, 0, 'an empty directory is fine');
});

t.test('a store this user may not write, and a layout it may not read: one line each, exit 1', { skip: process.getuid?.() !== 0 && 'needs root to run a command as nobody' }, async (t) => {
  const { execa } = await import('execa');
  const { sysctrBin } = await import('../helpers/cli.js');
  const asNobody = (args: string[], env: Record<string, string>) =>
    // a clean environment: the test runner's NODE_OPTIONS would have the child write into .tap/
    execa('runuser', ['-u', 'nobody', '--', process.execPath, sysctrBin, ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', ...env },
      extendEnv: false,
      reject: false,
    });
  const closed = path.join(work, 'closed');
  fs.mkdirSync(closed, { mode: 0o700 });
  fs.cpSync(path.join(work, 'good'), path.join(closed, 'layout'), { recursive: true });
  fs.chmodSync(work, 0o755);
  const r = await asNobody(['images', 'list'], { SYSCTR_ROOT: path.join(closed, 'root') });
  t.equal(r.exitCode, 1);
  t.match(r.stderr, /^sysctr: cannot use the store at .*closed\/root\/store: permission denied\n  hint: run as root, or use your own store with --user/);
  t.notMatch(r.stderr, /internal error/);
  const own = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-nobody-'));
  fs.chmodSync(own, 0o777);
  t.teardown(() => fs.rmSync(own, { recursive: true, force: true }));
  const p = await asNobody(['pull', `oci:${path.join(closed, 'layout')}:1`], { SYSCTR_ROOT: path.join(own, 'root') });
  t.equal(p.exitCode, 1);
  t.match(p.stderr, /cannot read index\.json: permission denied/);
});

t.test('the store is still healthy after all of that', async (t) => {
  const r = await run(['fsck']);
  t.equal(r.exitCode, 0, r.stdout);
  const r2 = await run(['images', 'list', '--json']);
  t.equal(r2.exitCode, 0, r2.stderr);
  t.equal(JSON.parse(r2.stdout).length, 1, 'the image pulled before is still there, alone');
});

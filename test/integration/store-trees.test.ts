/**
 * The store's merged trees (STORE/trees/<chain id>.json): written by pull, used by checkout,
 * rebuilt when missing or unreadable, checked by fsck against the layers, removed by prune; and
 * the store lock as checkouts see it. Through the CLI, against a store on disk.
 */
import t, { type Test } from 'tap';
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sysctr } from '../helpers/cli.js';
import { buildImage, busyboxEntries, writeOciLayout, type TarEntry } from '../helpers/images.js';
import { describeTree, diffTrees } from '../helpers/tree-compare.js';
import { requirePrereqs } from '../helpers/prereq.js';

// the store keeps owners (fchown): root only
if (!requirePrereqs(t, [])) process.exit(0);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-trees-'));
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
const root = path.join(work, 'root');
const run = (args: string[]) => sysctr(args, { env: { SYSCTR_ROOT: root } });
const sha = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

const lower: TarEntry[] = [
  ...busyboxEntries(['sh']),
  { path: 'etc', type: 'dir' },
  { path: 'etc/keep', content: 'keep\n' },
  { path: 'etc/removed', content: 'gone\n' },
  { path: 'srv', type: 'dir', mode: 0o750, uid: 7, gid: 8 },
  { path: 'srv/a', content: 'a\n', mode: 0o600, uid: 7, gid: 8 },
];
const upper: TarEntry[] = [
  { path: 'etc/.wh.removed', content: '' },
  { path: 'etc/keep', content: 'upper\n' },
  { path: 'srv/b', content: 'b\n' },
];
const image = buildImage({ layers: [{ entries: lower }, { entries: upper }] });
const layout = path.join(work, 'layout');
writeOciLayout(layout, [{ image, ref: '1' }]);
// The OCI image spec's ChainID of the two layers, computed here independently.
const diffIds = JSON.parse(image.config.bytes.toString()).rootfs.diff_ids as string[];
const chain = sha(`${diffIds[0]} ${diffIds[1]}`);
const treeFile = path.join(root, 'store/trees', `${chain}.json`);

let reference: Map<string, string>;
let n = 0;
async function checkoutMatches(tt: Test, what: string) {
  const dir = path.join(work, `co${n++}`);
  const r = await run(['checkout', 'layout:1', dir]);
  tt.equal(r.exitCode, 0, r.stderr);
  tt.same(diffTrees(reference, describeTree(dir)), [], `${what}: the same tree`);
}

t.test('pull stores the merged tree under the chain id; checkout uses it', async (t) => {
  const r = await run(['pull', `oci:${layout}:1`]);
  t.equal(r.exitCode, 0, r.stderr);
  t.ok(fs.existsSync(treeFile), 'trees/<ChainID>.json written by the pull');
  const dir = path.join(work, 'first');
  t.equal((await run(['checkout', 'layout:1', dir])).exitCode, 0);
  reference = describeTree(dir);
  t.equal(fs.readFileSync(path.join(dir, 'etc/keep'), 'utf8'), 'upper\n', 'upper layer wins');
  t.notOk(fs.existsSync(path.join(dir, 'etc/removed')), 'whiteout applied');
  t.equal(reference.get('srv'), 'dir 750 7:8', 'directory mode and owner');
  t.equal(reference.get('srv/a')?.startsWith('file 600 7:8'), true, 'file mode and owner');
});

t.test('a missing or unreadable merged tree is rebuilt from the layers', async (t) => {
  fs.rmSync(treeFile);
  await checkoutMatches(t, 'without the file');
  t.ok(fs.existsSync(treeFile), 'the checkout wrote it again');
  fs.writeFileSync(treeFile, '{"version":1,"layers":[');
  await checkoutMatches(t, 'with a truncated file');
  t.doesNotThrow(() => JSON.parse(fs.readFileSync(treeFile, 'utf8')), 'and replaced it');
  t.same(fs.readdirSync(path.join(root, 'store/tmp')), [], 'no temp file left');
});

t.test('fsck finds a merged tree that differs from the layers; --repair removes it', async (t) => {
  // Swap the objects of two files: a checkout would link the wrong content.
  const doc = JSON.parse(fs.readFileSync(treeFile, 'utf8'));
  const files = doc.rows.filter((r: unknown[]) => r[0] === 'f' && Number(r[6]) > 0);
  [files[0][7], files[1][7]] = [files[1][7], files[0][7]];
  fs.writeFileSync(treeFile, JSON.stringify(doc));
  let r = await run(['fsck']);
  t.equal(r.exitCode, 1, 'fsck fails');
  t.match(r.stdout, new RegExp(`tree-damaged.*sha256:${chain}`), 'names the merged tree');
  r = await run(['fsck', '--repair']);
  t.equal(r.exitCode, 0, r.stdout + r.stderr);
  t.match(r.stdout, /removed 0 objects, 0 layers, 0 images, 1 merged trees/, 'says what it removed');
  t.notOk(fs.existsSync(treeFile), 'removed');
  t.same((await run(['images', 'list', '-q'])).stdout.trim().split('\n').length, 1, 'the image stays: its layers are sound');
  t.equal((await run(['fsck'])).exitCode, 0, 'clean after repair');
  await checkoutMatches(t, 'after repair');
});

t.test('prune removes the merged tree of a deleted image', async (t) => {
  t.equal((await run(['images', 'tag', 'layout:1', 'other:1'])).exitCode, 0);
  t.equal((await run(['images', 'delete', 'layout:1'])).exitCode, 0);
  t.ok(fs.existsSync(treeFile), 'kept while another name has the layers');
  t.equal((await run(['images', 'delete', 'other:1'])).exitCode, 0);
  t.equal((await run(['images', 'prune'])).exitCode, 0);
  t.notOk(fs.existsSync(treeFile), 'removed with the layers');
  t.equal((await run(['fsck'])).exitCode, 0);
});

t.test('checkout waits for a writer holding the store lock, and goes on when it is killed', async (t) => {
  t.equal((await run(['pull', `oci:${layout}:1`])).exitCode, 0);
  // A writer: an exclusive flock on the store's lock file, held by a process that is then killed.
  const holder = spawn('flock', ['--exclusive', path.join(root, 'store/lock'), 'sleep', '30'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  const started = Date.now();
  const dir = path.join(work, 'waited');
  const pending = run(['checkout', 'layout:1', dir]);
  await new Promise((r) => setTimeout(r, 1200));
  t.notOk(fs.existsSync(path.join(dir, 'etc')), 'nothing written while the writer holds the lock');
  holder.kill('SIGKILL');
  const r = await pending;
  t.equal(r.exitCode, 0, r.stderr);
  t.match(r.stderr, /waiting for the store lock/, 'says it waits');
  t.ok(Date.now() - started >= 1200, 'it waited');
  t.same(diffTrees(reference, describeTree(dir)), [], 'then checked out the whole tree');
  // A shared holder (another checkout) does not block a checkout.
  const reader = spawn('flock', ['--shared', path.join(root, 'store/lock'), 'sleep', '30'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  const r2 = await run(['checkout', 'layout:1', path.join(work, 'beside-reader')]);
  t.equal(r2.exitCode, 0, r2.stderr);
  t.notMatch(r2.stderr, /waiting/, 'two checkouts run together');
  reader.kill('SIGKILL');
});

t.test('no flock on PATH: a clear error, not a crash', async (t) => {
  const r = await sysctr(['checkout', 'layout:1', path.join(work, 'no-flock')], { env: { SYSCTR_ROOT: root, PATH: '/nonexistent' } });
  t.equal(r.exitCode, 1);
  t.match(r.stderr, /^sysctr: cannot take the store lock: spawn flock ENOENT \(is util-linux's flock installed\?\)/);
  t.notMatch(r.stderr, /internal error|Node\.js v/);
});

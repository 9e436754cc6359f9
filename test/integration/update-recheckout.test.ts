/**
 * The in-place re-checkout an update does in the rollback slot (lib/rootfs/recheckout.ts): from a
 * checkout of one tree, the result must be exactly what writeTree writes for the other tree -
 * files changed, added and removed, a file that becomes a directory and the reverse, a changed
 * symlink, an empty file, directory modes - and what both trees share keeps its inode. As root: the
 * trees keep their owners.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { writeTree } from '../../lib/rootfs/checkout.js';
import { mergeLayers } from '../../lib/rootfs/tree.js';
import { recheckout } from '../../lib/rootfs/recheckout.js';
import type { TreeEntry } from '../../lib/store/types.js';
import { describeTree, diffTrees } from '../helpers/tree-compare.js';
import { requirePrereqs } from '../helpers/prereq.js';

if (!requirePrereqs(t, [])) process.exit(0);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-recheckout-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const objects = path.join(dir, 'objects');
fs.mkdirSync(objects);
const objectPath = (id: string) => path.join(objects, id);

/** A stored object with that content (mode and owner on the object, as the store keeps them). */
function object(content: string, mode = 0o644): { object: string; size: number } {
  const id = crypto.createHash('sha256').update(`${mode}:${content}`).digest('hex');
  if (!fs.existsSync(objectPath(id))) {
    fs.writeFileSync(objectPath(id), content);
    fs.chmodSync(objectPath(id), mode);
  }
  return { object: id, size: Buffer.byteLength(content) };
}
const d = (p: string, mode = 0o755): TreeEntry => ({ path: p, type: 'd', mode, uid: 0, gid: 0, mtime: 1000 });
const f = (p: string, content: string, mode = 0o644): TreeEntry => ({ path: p, type: 'f', mode, uid: 0, gid: 0, mtime: 1000, ...object(content, mode) });
const l = (p: string, link: string): TreeEntry => ({ path: p, type: 'l', mode: 0o777, uid: 0, gid: 0, mtime: 1000, link });

const shared = [d('usr'), d('usr/lib'), f('usr/lib/big', 'shared content'), d('usr/share'), f('usr/share/same', 'same'), f('etc-empty', '')];
const before = mergeLayers([[
  ...shared, f('usr/bin-changed', 'v1', 0o755), f('gone', 'x'), d('gone-dir'), f('gone-dir/a', 'a'),
  f('becomes-dir', 'file'), d('becomes-file'), f('becomes-file/x', 'x'), l('link', 'usr/lib/big'), d('mode-changes', 0o755),
]]);
const after = mergeLayers([[
  ...shared, f('usr/bin-changed', 'v2', 0o755), f('new', 'new'), d('new-dir'), f('new-dir/b', 'b'),
  d('becomes-dir'), f('becomes-dir/y', 'y'), f('becomes-file', 'now a file'), l('link', 'usr/share/same'), d('mode-changes', 0o700),
]]);

t.test('a checkout of one tree becomes exactly a checkout of the other', async (t) => {
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  fs.mkdirSync(a);
  fs.mkdirSync(b);
  writeTree(before, a, objectPath);
  const inode = fs.statSync(path.join(a, 'usr/lib')).ino;
  const stats = recheckout(before, after, a, objectPath);
  writeTree(after, b, objectPath);
  t.same(diffTrees(describeTree(a), describeTree(b)), [], 'same tree as a fresh checkout');
  t.equal(fs.statSync(path.join(a, 'usr/lib')).ino, inode, 'a shared directory is kept, not made again');
  t.equal(fs.statSync(path.join(a, 'usr/lib/big')).ino, fs.statSync(objectPath(object('shared content').object)).ino, 'files stay hardlinks to the store');
  t.equal(fs.statSync(path.join(a, 'mode-changes')).mode & 0o777, 0o700, 'directory mode updated');
  t.ok(stats.kept >= 7, `kept ${stats.kept}`);
  t.ok(stats.removed >= 3, `removed ${stats.removed}`);
});

t.test('and back again', async (t) => {
  const a = path.join(dir, 'a');
  recheckout(after, before, a, objectPath);
  const c = path.join(dir, 'c');
  fs.mkdirSync(c);
  writeTree(before, c, objectPath);
  t.same(diffTrees(describeTree(a), describeTree(c)), []);
});

/**
 * Turning the rootfs of an older deployment into the checkout of another image, in place: what the
 * two merged trees have in common is left as it is, and only the difference is written. An update
 * reuses the rollback slot's rootfs this way (update.ts), so that an image sharing all but one small
 * layer with the old one costs a few links instead of a new directory for every directory of the
 * image (on ext4 each one is a 4 KiB block: 1,255 directories are 5 MB, more than the image's
 * changed files). The result is the same tree writeTree would write
 * (test/integration/update-recheckout.test.ts).
 */
import fs from 'node:fs';
import { writeLeaf, type LinkState } from './checkout.js';
import type { MergedTree, TreeNode } from './tree.js';
import type { TreeEntry } from '../store/types.js';

export interface RecheckoutStats {
  kept: number;
  written: number;
  removed: number;
}

/** The node at exactly `rel` (no symlink following: the old checkout's own entry there). */
function nodeAt(tree: MergedTree, rel: string): TreeNode | undefined {
  let n: TreeNode | undefined = tree.root;
  if (!rel) return n;
  for (const p of rel.split('/')) {
    n = n.children?.get(p);
    if (!n) return undefined;
  }
  return n;
}

function sameEntry(a: TreeEntry, b: TreeEntry): boolean {
  if (a.type !== b.type) return false;
  switch (a.type) {
    case 'd':
      return true; // kept; its metadata is set at the end anyway
    case 'f':
      // an object's id covers content, mode, owner and xattrs; an empty file is a copy
      return a.object === b.object && a.size === b.size && (a.size !== 0 || (a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && a.mtime === b.mtime));
    case 'l':
      return a.link === b.link && a.uid === b.uid && a.gid === b.gid && a.mtime === b.mtime;
    default:
      return true; // 'x' entries are never written
  }
}

/**
 * `dir` holds a checkout of `oldTree` (written by writeTree); afterwards it holds one of `newTree`.
 * Throws on anything unexpected; the caller then throws the directory away and checks out afresh.
 */
export function recheckout(oldTree: MergedTree, newTree: MergedTree, dir: string, objectPath: (id: string) => string): RecheckoutStats {
  const stats: RecheckoutStats = { kept: 0, written: 0, removed: 0 };
  const root = process.getuid?.() === 0;
  const link: LinkState = { crossDevice: false };
  // what the new tree does not have, or has as another type, goes first (walk: parents first)
  let removedDir: string | undefined;
  for (const [rel, node] of oldTree.walk()) {
    if (!rel || (removedDir !== undefined && rel.startsWith(removedDir))) continue;
    const now = nodeAt(newTree, rel);
    if (now && now.entry.type === node.entry.type) continue;
    fs.rmSync(`${dir}/${rel}`, { recursive: true, force: true });
    if (node.entry.type === 'd') removedDir = `${rel}/`;
    stats.removed++;
  }
  const dirs: Array<[string, TreeEntry]> = [];
  const oldUmask = process.umask(0);
  try {
    for (const [rel, node] of newTree.walk()) {
      const e = node.entry;
      const dest = rel ? `${dir}/${rel}` : dir;
      // the old entry, when it is still there: one of another type was removed above
      const before = nodeAt(oldTree, rel)?.entry;
      const present = before?.type === e.type ? before : undefined;
      if (e.type === 'd') {
        if (!present) {
          fs.mkdirSync(dest, 0o700);
          stats.written++;
        } else stats.kept++;
        dirs.push([dest, e]);
        continue;
      }
      if (present && sameEntry(present, e)) {
        stats.kept++;
        continue;
      }
      if (present) fs.rmSync(dest, { recursive: true, force: true });
      if (e.type === 'x') continue;
      writeLeaf(dest, e, objectPath, link);
      stats.written++;
    }
  } finally {
    process.umask(oldUmask);
  }
  // directory metadata last, deepest first, as writeTree does (children change a dir's mtime)
  for (let i = dirs.length - 1; i >= 0; i--) {
    const [d, e] = dirs[i];
    if (e.uid !== 0 || e.gid !== 0 || !root) fs.chownSync(d, e.uid, e.gid);
    fs.chmodSync(d, e.mode);
    fs.utimesSync(d, e.mtime, e.mtime);
  }
  return stats;
}

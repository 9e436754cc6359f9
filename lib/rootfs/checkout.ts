/**
 * Writing a merged tree into a directory: regular files hardlinked to store objects (which carry
 * the files' mode and owner), zero-size files and files at the link-count limit copied, symlinks,
 * directories with their metadata set after their children.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SysctrError } from '../errors.js';
import { isAbsentOrEmptyDir, setXattrs } from '../fsutil.js';
import type { ReadView, Store } from '../store/store.js';
import type { CheckoutStats, ImageRecord, TreeEntry } from '../store/types.js';
import { flatten, type FlatRow } from './flat.js';
import { flatTree } from './merged.js';
import type { MergedTree } from './tree.js';

/**
 * `sysctr checkout`: the image `pick` finds (lib/image/find.ts reads names) written into dir, in
 * one read of the store, so nothing can remove it between finding it and linking its files.
 */
export async function checkout(store: Store, pick: (view: ReadView) => ImageRecord, dir: string): Promise<{ image: ImageRecord; stats: CheckoutStats }> {
  if (!isAbsentOrEmptyDir(dir)) {
    throw new SysctrError(`checkout target ${dir} exists and is not empty`, { hint: 'choose a new directory or empty this one' });
  }
  return store.read((view) => {
    const image = pick(view);
    const flat = flatTree(view, image);
    fs.mkdirSync(dir, { recursive: true });
    return { image, stats: writeRows(flat.rows, path.resolve(dir), (id) => view.objects.path(id)) };
  });
}

/** writeRows for a merged tree in memory (install and update, which also read the image's files from it). */
export function writeTree(tree: MergedTree, dir: string, objectPath: (id: string) => string): CheckoutStats {
  return writeRows(flatten(tree, []).rows, dir, objectPath);
}

/**
 * Writes entries, given parents first, into dir (which exists): one tight loop of synchronous
 * calls, which for tens of thousands of mkdir/link calls beats the thread pool several times over.
 */
export function writeRows(rows: FlatRow[], dir: string, objectPath: (id: string) => string): CheckoutStats {
  const stats: CheckoutStats = { files: 0, linked: 0, copied: 0, dirs: 0, symlinks: 0, hardlinks: 0, skipped: 0 };
  const dirs: Array<[string, { mode: number; uid: number; gid: number; mtime: number }]> = [];
  // As root a directory can be created with its final mode at once (root writes into read-only
  // directories); then only special bits and owners need a second call.
  const root = process.getuid?.() === 0;
  const link: LinkState = { crossDevice: false };
  const oldUmask = process.umask(0);
  try {
    for (const r of rows) {
      const rel = r[1];
      const dest = rel ? `${dir}/${rel}` : dir;
      switch (r[0]) {
        case 'd':
          if (rel) fs.mkdirSync(dest, root ? r[2] & 0o777 : 0o700);
          dirs.push([dest, { mode: r[2], uid: r[3], gid: r[4], mtime: r[5] }]);
          stats.dirs++;
          break;
        case 'f':
          stats.files++;
          if (linkObject(r, dest) || writeLeaf(dest, rowEntry(r), objectPath, link) === 'linked') stats.linked++;
          else stats.copied++;
          break;
        case 'l':
          writeLeaf(dest, rowEntry(r), objectPath, link);
          stats.symlinks++;
          break;
        case 'x':
          stats.skipped++;
          break;
        default:
          throw new Error(`unexpected tree entry type ${r[0]} at ${rel}`);
      }
    }
  } finally {
    process.umask(oldUmask);
  }
  /** The common case inline; false sends the file to writeLeaf (empty, EMLINK, EXDEV). */
  function linkObject(r: FlatRow, dest: string): boolean {
    if (r[6] === 0 || link.crossDevice) return false;
    try {
      fs.linkSync(objectPath(r[7]), dest);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EXDEV' || code === 'EMLINK') return false;
      throw err;
    }
  }
  // Directory metadata last, deepest first: writing children changes a directory's mtime, and a
  // read-only directory must be filled before it gets its mode.
  for (let i = dirs.length - 1; i >= 0; i--) {
    const [d, e] = dirs[i];
    if (e.uid !== 0 || e.gid !== 0 || !root) fs.chownSync(d, e.uid, e.gid);
    if (!root || e.mode & 0o7000 || d === dir) fs.chmodSync(d, e.mode);
    fs.utimesSync(d, e.mtime, e.mtime);
  }
  return stats;
}

/** Remembers, for one checkout, that linking is impossible (DIR on another filesystem). */
export interface LinkState {
  crossDevice: boolean;
}

/**
 * Writes one file or symlink of a tree: a regular file as a hardlink to its store object (the
 * object carries mode and owner), copied when it is empty, when the object is at the link-count
 * limit (EMLINK) or when the target is on another filesystem than the store (EXDEV).
 */
export function writeLeaf(dest: string, e: TreeEntry, objectPath: (id: string) => string, link: LinkState): 'linked' | 'copied' | 'symlink' {
  if (e.type === 'l') {
    fs.symlinkSync(e.link!, dest);
    fs.lchownSync(dest, e.uid, e.gid);
    fs.lutimesSync(dest, e.mtime, e.mtime);
    return 'symlink';
  }
  if (e.type !== 'f') throw new Error(`unexpected tree entry type ${e.type} at ${dest}`);
  if (e.size === 0) {
    writeEmpty(dest, e);
    return 'copied';
  }
  const src = objectPath(e.object!);
  if (!link.crossDevice) {
    try {
      fs.linkSync(src, dest);
      return 'linked';
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EXDEV') link.crossDevice = true;
      else if (code !== 'EMLINK') throw err;
    }
  }
  fs.copyFileSync(src, dest);
  fs.chownSync(dest, e.uid, e.gid);
  fs.chmodSync(dest, e.mode);
  // a copy has none of the object's attributes; set after chown, which clears capabilities
  if (e.xattrs) setXattrs(dest, e.xattrs);
  fs.utimesSync(dest, e.mtime, e.mtime);
  return 'copied';
}

function writeEmpty(dest: string, e: { mode: number; uid: number; gid: number; mtime: number; xattrs?: Record<string, string> }): void {
  const fd = fs.openSync(dest, 'wx', 0o600);
  try {
    fs.fchownSync(fd, e.uid, e.gid);
    fs.fchmodSync(fd, e.mode);
    if (e.xattrs) setXattrs(dest, e.xattrs);
    fs.futimesSync(fd, e.mtime, e.mtime);
  } finally {
    fs.closeSync(fd);
  }
}

function rowEntry(r: FlatRow): TreeEntry {
  const [type, p, mode, uid, gid, mtime, size, ref, xattrs] = r;
  return { path: p, type, mode, uid, gid, mtime, size, object: type === 'f' ? ref : undefined, link: type === 'l' ? ref : undefined, xattrs };
}

/**
 * Copies a directory tree the way `cp -a --reflink=auto` does: files as reflinks (FICLONE) where
 * the filesystem shares extents (XFS, btrfs), byte copies where it cannot (ext4); modes, owners,
 * times, symlinks and hardlinks within the tree kept. Sockets, fifos and device nodes are left
 * out (a data volume's are recreated by its service) and counted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isErrno } from '../errors.js';

export interface CopyStats {
  files: number;
  bytes: number;
  /** files that became reflinks (sharing the source's blocks) */
  reflinked: number;
  /** special files left out */
  skipped: number;
}

/** Copies src (a directory) to dst (must not exist). */
export function copyTree(src: string, dst: string): CopyStats {
  const stats: CopyStats = { files: 0, bytes: 0, reflinked: 0, skipped: 0 };
  const links = new Map<string, string>();
  const ctx = { stats, links, reflink: true };
  copyDir(src, dst, ctx);
  return stats;
}

interface Ctx {
  stats: CopyStats;
  links: Map<string, string>;
  /** false once a FICLONE failed: the filesystem has none, copy from then on */
  reflink: boolean;
}

function keepMeta(p: string, st: fs.Stats, link = false): void {
  if (process.getuid?.() === 0) (link ? fs.lchownSync : fs.chownSync)(p, st.uid, st.gid);
  if (!link) fs.chmodSync(p, st.mode & 0o7777);
  (link ? fs.lutimesSync : fs.utimesSync)(p, st.atime, st.mtime);
}

function copyDir(src: string, dst: string, ctx: Ctx): void {
  const st = fs.lstatSync(src);
  fs.mkdirSync(dst, { mode: 0o700 });
  for (const e of fs.readdirSync(src)) copyEntry(path.join(src, e), path.join(dst, e), ctx);
  keepMeta(dst, st);
}

function copyEntry(src: string, dst: string, ctx: Ctx): void {
  const st = fs.lstatSync(src);
  if (st.isDirectory()) return copyDir(src, dst, ctx);
  if (st.isSymbolicLink()) {
    fs.symlinkSync(fs.readlinkSync(src), dst);
    return keepMeta(dst, st, true);
  }
  if (!st.isFile()) {
    ctx.stats.skipped++;
    return;
  }
  const key = `${st.dev}:${st.ino}`;
  const first = st.nlink > 1 ? ctx.links.get(key) : undefined;
  if (first) return fs.linkSync(first, dst);
  if (st.nlink > 1) ctx.links.set(key, dst);
  let cloned = false;
  if (ctx.reflink) {
    try {
      fs.copyFileSync(src, dst, fs.constants.COPYFILE_FICLONE_FORCE);
      cloned = true;
    } catch (err) {
      if (!['ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EINVAL', 'ENOSYS', 'ENOTTY'].some((c) => isErrno(err, c))) throw err;
      ctx.reflink = false;
      fs.rmSync(dst, { force: true });
    }
  }
  if (!cloned) fs.copyFileSync(src, dst);
  ctx.stats.files++;
  ctx.stats.bytes += st.size;
  if (cloned) ctx.stats.reflinked++;
  keepMeta(dst, st);
}

/**
 * Puts `fresh` (a complete directory beside `target`) in target's place: target renamed away,
 * fresh renamed in, the old one removed. A crash between the renames leaves target absent and
 * both dirs under their temp names; the caller's next run starts again from its source.
 */
export function swapDir(fresh: string, target: string): void {
  const old = path.join(path.dirname(target), `.${path.basename(target)}.old-${process.pid}`);
  fs.rmSync(old, { recursive: true, force: true });
  if (fs.existsSync(target)) fs.renameSync(target, old);
  fs.renameSync(fresh, target);
  fs.rmSync(old, { recursive: true, force: true });
}

/** Removes the temp dirs (.NAME.old-PID, .NAME.restore-PID, ...) a killed swap or copy left in dir. */
export function removeLeftovers(dir: string, prefix: string): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const e of entries) if (e.startsWith(prefix)) fs.rmSync(path.join(dir, e), { recursive: true, force: true });
}

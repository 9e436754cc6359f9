/**
 * Describes a directory tree (path, type, mode, owner, link target, size, content hash) for
 * comparisons, and checks that files hardlinked together in one tree are hardlinked in another.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

function hashFile(abs: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(abs, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex').slice(0, 16);
}

/** Every path below root, relative, in sorted order, with its lstat. */
function walkTree(root: string, visit: (rel: string, abs: string, st: fs.Stats) => void): void {
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = path.join(root, r);
      const st = fs.lstatSync(abs);
      visit(r, abs, st);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
}

export function describeTree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  walkTree(root, (r, abs, st) => {
    const meta = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
    if (st.isDirectory()) out.set(r, `dir ${meta}`);
    else if (st.isSymbolicLink()) out.set(r, `symlink -> ${fs.readlinkSync(abs)} ${st.uid}:${st.gid}`);
    // the apparent size too: a sparse file must keep its length, holes or not
    else if (st.isFile()) out.set(r, `file ${meta} ${st.size} ${hashFile(abs)}`);
    else out.set(r, `special ${meta}`);
  });
  return out;
}

/** Lines that differ between two descriptions ("-" only in a, "+" only in b). */
export function diffTrees(a: Map<string, string>, b: Map<string, string>, ignore: (p: string, desc: string) => boolean = () => false): string[] {
  const out: string[] = [];
  for (const [p, d] of a) if (!ignore(p, d) && b.get(p) !== d) out.push(`- ${p}: ${d}`);
  for (const [p, d] of b) if (!ignore(p, d) && a.get(p) !== d) out.push(`+ ${p}: ${d}`);
  return out;
}

/** Groups of regular files that share an inode (two or more paths each). */
export function hardlinkGroups(root: string): string[][] {
  const byInode = new Map<string, string[]>();
  walkTree(root, (r, _abs, st) => {
    if (st.isFile() && st.nlink > 1) {
      const k = `${st.dev}:${st.ino}`;
      byInode.set(k, [...(byInode.get(k) ?? []), r]);
    }
  });
  return [...byInode.values()].filter((g) => g.length > 1);
}

/**
 * Groups (from hardlinkGroups of a reference tree) that are split in `got` (one line each). `got`
 * may link more files together than the reference does (a content-addressed checkout shares one
 * inode among identical files), but never fewer.
 */
export function hardlinksSplit(groups: string[][], got: string): string[] {
  const out: string[] = [];
  for (const g of groups) {
    const inodes = new Set(g.map((p) => {
      try {
        const st = fs.lstatSync(path.join(got, p));
        return `${st.dev}:${st.ino}`;
      } catch {
        return `missing:${p}`;
      }
    }));
    if (inodes.size > 1) out.push(`not hardlinked together: ${g.join(', ')}`);
  }
  return out;
}

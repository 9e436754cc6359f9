/**
 * Reading an image's /exports/hostfs: from the store (its merged tree, before anything is checked
 * out) or from a directory on disk (--rootfs). Regular files, symlinks (kept as symlinks) and empty
 * directories; device nodes, fifos and sockets are refused.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SysctrError } from '../errors.js';
import type { MergedTree, TreeNode } from '../rootfs/tree.js';
import type { HostfsSourceEntry } from './plan.js';

export const HOSTFS_DIR = 'exports/hostfs';

function special(source: string): SysctrError {
  return new SysctrError(`hostfs${source}: a device node, fifo or socket cannot be installed on the host`, { hint: 'remove it from /exports/hostfs in the image' });
}

/** The hostfs entries of an image in the store. */
export function hostfsFromTree(tree: MergedTree, objectPath: (id: string) => string): HostfsSourceEntry[] {
  const top = tree.lookup(HOSTFS_DIR);
  if (!top?.children) return [];
  const out: HostfsSourceEntry[] = [];
  const walk = (node: TreeNode, rel: string) => {
    for (const [name, child] of node.children ?? []) {
      const source = `${rel}/${name}`;
      const e = child.entry;
      if (e.type === 'd') {
        if (!child.children?.size) out.push({ source, type: 'd', mode: e.mode });
        walk(child, source);
      } else if (e.type === 'f') {
        out.push({ source, type: 'f', mode: e.mode, content: e.size === 0 ? Buffer.alloc(0) : fs.readFileSync(objectPath(e.object!)) });
      } else if (e.type === 'l') out.push({ source, type: 'l', mode: e.mode, link: e.link ?? '' });
      else if (e.type === 'x') throw special(source);
    }
  };
  walk(top, '');
  return out;
}

/** The hostfs entries under DIR/exports/hostfs on disk (an existing rootfs; `sub` for a source dir). */
export function hostfsFromDir(rootfs: string, sub: string = HOSTFS_DIR): HostfsSourceEntry[] {
  const top = path.join(rootfs, sub);
  if (!fs.existsSync(top)) return [];
  const out: HostfsSourceEntry[] = [];
  const walk = (dir: string, rel: string) => {
    const names = fs.readdirSync(dir);
    for (const name of names) {
      const abs = path.join(dir, name);
      const source = `${rel}/${name}`;
      const st = fs.lstatSync(abs);
      if (st.isDirectory()) {
        if (fs.readdirSync(abs).length === 0) out.push({ source, type: 'd', mode: st.mode & 0o7777 });
        walk(abs, source);
      } else if (st.isFile()) out.push({ source, type: 'f', mode: st.mode & 0o7777, content: fs.readFileSync(abs) });
      else if (st.isSymbolicLink()) out.push({ source, type: 'l', mode: 0o777, link: fs.readlinkSync(abs) });
      else throw special(source);
    }
  };
  walk(top, '');
  return out;
}

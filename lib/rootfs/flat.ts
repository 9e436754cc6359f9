/**
 * Merged trees, kept: an image's layers merged once into a flat listing in checkout order
 * (parents before children), stored under the layers' chain id (lib/store/chain.ts). A checkout
 * then reads one file and makes system calls, instead of reading every layer's listing and
 * merging them again each time. The file is derived data: written by rename,
 * checked against the layers by fsck, rebuilt whenever it is missing or unreadable.
 */
import type { MergedTree } from './tree.js';
import type { TreeEntry } from '../store/types.js';

/** type, path, mode, uid, gid, mtime, size, object id (files) or link target (symlinks) */
export type FlatRow = [
  type: TreeEntry['type'], path: string, mode: number, uid: number, gid: number, mtime: number, size: number, ref: string,
  /** a file's extended attributes (name -> base64), when it has any: for checkouts that copy */
  xattrs?: Record<string, string>,
];

export interface FlatTree {
  version: 1;
  /** the diff_ids merged, base first */
  layers: string[];
  rows: FlatRow[];
}

export function flatten(tree: MergedTree, layers: string[]): FlatTree {
  const rows: FlatRow[] = [];
  for (const [rel, node] of tree.walk()) {
    const e = node.entry;
    const row: FlatRow = [e.type, rel, e.mode, e.uid, e.gid, e.mtime, e.size ?? 0, e.object ?? e.link ?? ''];
    if (e.xattrs) row.push(e.xattrs);
    rows.push(row);
  }
  return { version: 1, layers, rows };
}

/** Parses a stored flat tree; undefined when it is not one for these layers (damaged, stale). */
export function parseFlat(text: string, layers: string[]): FlatTree | undefined {
  let t: FlatTree;
  try {
    t = JSON.parse(text) as FlatTree;
  } catch {
    return undefined;
  }
  if (t?.version !== 1 || !Array.isArray(t.rows) || !Array.isArray(t.layers)) return undefined;
  if (t.layers.length !== layers.length || t.layers.some((l, i) => l !== layers[i])) return undefined;
  return t;
}

/**
 * Store maintenance: prune (remove what no image references) and fsck (re-hash every object;
 * report, and with repair remove, damaged content and everything that depends on it).
 */
import { getXattrs, sha256 } from '../fsutil.js';
import { keptXattr } from '../layer/tar-reader.js';
import { treeKey } from './chain.js';
import fs from 'node:fs';
import type { Store } from './store.js';
import type { ImageRecord } from './types.js';
import type { WriteView } from './views.js';

export interface PruneResult {
  layers: number;
  /** merged trees of layer chains no image has */
  trees: number;
  objects: number;
  blobs: number;
  bytes: number;
}

/**
 * Removes layers, merged trees, objects and blobs no image refers to, inside a write. With dryRun
 * nothing is removed and the result counts what would be, for the images given (default: those
 * stored; a dry run of delete passes the list the delete would leave).
 */
export function prune(view: WriteView, opts: { dryRun?: boolean; images?: ImageRecord[] } = {}): PruneResult {
  const images = opts.images ?? view.images.list();
  const dry = opts.dryRun === true;
  const sizeOf = (id: string) => {
    try {
      return fs.lstatSync(view.objects.path(id)).size;
    } catch {
      return 0;
    }
  };
  const result: PruneResult = { layers: 0, trees: 0, objects: 0, blobs: 0, bytes: 0 };
  const keepTrees = new Set(images.map((i) => treeKey(i.layers)));
  for (const t of view.trees.list()) {
    if (!keepTrees.has(t)) {
      if (!dry) view.trees.remove(t);
      result.trees++;
    }
  }
  const keepLayers = new Set(images.flatMap((i) => i.layers));
  for (const l of view.layers.list()) {
    if (!keepLayers.has(l)) {
      if (!dry) view.layers.remove(l);
      result.layers++;
    }
  }
  const keepObjects = new Set<string>();
  for (const l of keepLayers) {
    if (!view.layers.has(l)) continue;
    for (const e of view.layers.tree(l)) if (e.object) keepObjects.add(e.object);
  }
  for (const id of view.objects.list()) {
    if (keepObjects.has(id)) continue;
    result.bytes += dry ? sizeOf(id) : view.objects.remove(id);
    result.objects++;
  }
  const keepBlobs = new Set(images.flatMap((i) => [i.id, i.manifestDigest]));
  for (const b of view.blobs.list()) {
    if (!keepBlobs.has(b)) {
      if (!dry) view.blobs.remove(b);
      result.blobs++;
    }
  }
  return result;
}

export interface FsckProblem {
  kind: 'object-damaged' | 'object-missing' | 'layer-damaged' | 'blob-damaged' | 'blob-missing' | 'layer-missing' | 'tree-damaged';
  id: string;
  detail: string;
  /** images that depend on it */
  images: string[];
}

export interface FsckResult {
  objects: number;
  layers: number;
  images: number;
  problems: FsckProblem[];
  /** with repair: what was removed */
  removed: { objects: number; layers: number; trees: number; images: string[] };
}

export interface FsckOptions {
  repair?: boolean;
  onProgress?: (done: number) => void;
  /**
   * Whether a stored merged tree is the one its layers give (merging is lib/rootfs's: it passes
   * this in); without it the trees are not checked.
   */
  treeMatches?: (view: WriteView, layers: string[], stored: Buffer) => boolean;
}

export async function fsck(store: Store, opts: FsckOptions = {}): Promise<FsckResult> {
  return store.write((view) => {
    const problems: FsckProblem[] = [];
    const images = view.images.list();
    const imagesOfLayer = (l: string) => images.filter((i) => i.layers.includes(l)).map((i) => i.name);
    // Objects whose files carry extended attributes are re-hashed with the attributes they have
    // now (read with getfattr: only these few, it costs a process each).
    const withXattrs = new Set<string>();
    for (const l of view.layers.list()) {
      try {
        for (const e of view.layers.tree(l)) if (e.object && e.xattrs) withXattrs.add(e.object);
      } catch {
        // an unreadable listing is reported below
      }
    }
    const badObjects = new Set<string>();
    let objects = 0;
    for (const id of view.objects.list()) {
      objects++;
      if (objects % 1000 === 0) opts.onProgress?.(objects);
      let got = '';
      try {
        got = view.objects.rehash(id, withXattrs.has(id) ? getXattrs(view.objects.path(id), keptXattr) : undefined);
      } catch (err) {
        got = `unreadable: ${(err as Error).message}`;
      }
      if (got !== id) badObjects.add(id);
    }
    const badLayers = new Set<string>();
    const layers = view.layers.list();
    for (const l of layers) {
      let tree;
      try {
        tree = view.layers.tree(l);
      } catch {
        badLayers.add(l);
        problems.push({ kind: 'layer-damaged', id: l, detail: 'its tree listing cannot be read', images: imagesOfLayer(l) });
        continue;
      }
      const hit = new Set<string>();
      for (const e of tree) {
        if (!e.object) continue;
        if (badObjects.has(e.object)) hit.add(e.object);
        else if (!view.objects.has(e.object)) {
          hit.add(e.object);
          problems.push({ kind: 'object-missing', id: e.object, detail: `${e.path} in layer ${l}`, images: imagesOfLayer(l) });
        }
      }
      if (hit.size) badLayers.add(l);
      for (const id of hit) {
        if (badObjects.has(id)) {
          problems.push({ kind: 'object-damaged', id, detail: `content or metadata changed; used in layer ${l}`, images: imagesOfLayer(l) });
        }
      }
    }
    // Damaged objects no layer uses are still damaged.
    const reported = new Set(problems.map((p) => p.id));
    for (const id of badObjects) if (!reported.has(id)) problems.push({ kind: 'object-damaged', id, detail: 'content or metadata changed; unused', images: [] });
    const badImages = new Set<string>();
    for (const img of images) {
      for (const l of img.layers) {
        if (!view.layers.has(l)) {
          problems.push({ kind: 'layer-missing', id: l, detail: `layer of ${img.name}`, images: [img.name] });
          badImages.add(img.name);
        } else if (badLayers.has(l)) badImages.add(img.name);
      }
      for (const b of [img.id, img.manifestDigest]) {
        if (!view.blobs.has(b)) {
          problems.push({ kind: 'blob-missing', id: b, detail: `config or manifest of ${img.name}`, images: [img.name] });
          badImages.add(img.name);
          continue;
        }
        const bytes = view.blobs.get(b);
        if (`sha256:${sha256(bytes)}` !== b) {
          problems.push({ kind: 'blob-damaged', id: b, detail: `config or manifest of ${img.name}`, images: [img.name] });
          badImages.add(img.name);
        }
      }
    }
    // Merged trees are derived from the layers: one that differs from a fresh merge is damaged
    // (removed on repair; the next checkout writes it again from the layers).
    const badTrees = new Set<string>();
    const checked = new Set<string>(); // names sharing their layers share the tree: check it once
    for (const img of images) {
      if (badImages.has(img.name)) continue;
      const chain = treeKey(img.layers);
      if (!opts.treeMatches || checked.has(chain)) continue;
      const stored = view.trees.get(chain);
      if (!stored) continue;
      checked.add(chain);
      if (!opts.treeMatches(view, img.layers, stored)) {
        badTrees.add(chain);
        problems.push({ kind: 'tree-damaged', id: `sha256:${chain}`, detail: `merged tree of ${img.name} differs from its layers`, images: [] });
      }
    }
    const removed = { objects: 0, layers: 0, trees: 0, images: [] as string[] };
    if (opts.repair) {
      for (const id of badObjects) {
        view.objects.remove(id);
        removed.objects++;
      }
      for (const l of badLayers) {
        view.layers.remove(l);
        removed.layers++;
      }
      removed.images = view.images.remove([...badImages]).map((i) => i.name);
      const kept = new Set(view.images.list().map((i) => treeKey(i.layers)));
      for (const t of view.trees.list()) {
        if (badTrees.has(t) || !kept.has(t)) {
          view.trees.remove(t);
          removed.trees++;
        }
      }
      for (const p of problems) if (p.kind === 'blob-damaged') view.blobs.remove(p.id);
    }
    return { objects, layers: layers.length, images: images.length, problems, removed };
  });
}

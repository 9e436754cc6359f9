/**
 * An image's merged tree, from the store's views: merged from the layers' listings in memory
 * (install, update, render, info, which also read files out of it), or flat, kept in the store's
 * trees under the layers' chain id (checkout). When a flat tree is made and kept is decided here.
 */
import { SysctrError } from '../errors.js';
import { UnsafePathError } from '../layer/safepath.js';
import { treeKey } from '../store/chain.js';
import type { ReadView } from '../store/store.js';
import type { ImageRecord } from '../store/types.js';
import { flatten, parseFlat, type FlatTree } from './flat.js';
import { mergeLayers, type MergedTree } from './tree.js';

/** Images up to this many layer entries get their flat tree at pull time (~30 MB of memory). */
const FLATTEN_AT_PULL_MAX_ENTRIES = 60_000;

/**
 * Layers that merge into something unsafe (a hardlink to a symlink, an entry through a link out of
 * the root) are the image's fault: a clear refusal naming it, at pull and at every checkout.
 */
function refusal(err: unknown, image: string): unknown {
  if (!(err instanceof UnsafePathError)) return err;
  return new SysctrError(`image ${image}: refused: ${err.message}`, { hint: `the image is unsafe; remove it with sysctr images delete ${image}` });
}

export function mergedTree(view: ReadView, rec: ImageRecord): MergedTree {
  try {
    return mergeLayers(rec.layers.map((d) => view.layers.tree(d)));
  } catch (err) {
    throw refusal(err, rec.name);
  }
}

/** The flat tree recomputed from the layers' listings. */
function computeFlat(view: ReadView, layers: string[]): FlatTree {
  return flatten(mergeLayers(layers.map((d) => view.layers.tree(d))), layers);
}

function storedFlat(view: ReadView, layers: string[]): FlatTree | undefined {
  const bytes = view.trees.get(treeKey(layers));
  return bytes ? parseFlat(bytes.toString('utf8'), layers) : undefined;
}

/** The image's layers merged, flat, in checkout order: the kept one, or computed and kept. */
export function flatTree(view: ReadView, rec: ImageRecord): FlatTree {
  const stored = storedFlat(view, rec.layers);
  if (stored) return stored;
  let t: FlatTree;
  try {
    t = computeFlat(view, rec.layers);
  } catch (err) {
    throw refusal(err, rec.name);
  }
  view.trees.put(treeKey(rec.layers), JSON.stringify(t));
  return t;
}

/**
 * At pull: the flat tree is made now for images of ordinary size, so that even the first checkout
 * reads one file. A larger one is made at its first checkout, which needs the whole tree in
 * memory anyway: a pull's memory must not grow with the image.
 */
export function flattenAtPull(view: ReadView, rec: ImageRecord): void {
  const entries = rec.layers.reduce((n, l) => n + (view.layers.meta(l)?.files ?? Infinity), 0);
  if (entries <= FLATTEN_AT_PULL_MAX_ENTRIES && !view.trees.has(treeKey(rec.layers))) flatTree(view, rec);
}

/** For fsck: whether a kept flat tree is the one its layers give. */
export function flatTreeMatches(view: ReadView, layers: string[], stored: Buffer): boolean {
  const t = parseFlat(stored.toString('utf8'), layers);
  return !!t && JSON.stringify(t.rows) === JSON.stringify(computeFlat(view, layers).rows);
}

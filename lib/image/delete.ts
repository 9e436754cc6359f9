/**
 * Deleting and pruning images. An image a deployment (live, rollback, or being installed) uses is
 * refused unless forced; forced, it loses its name but is kept as `<none>@ID` so its content stays
 * in the store for as long as a deployment needs it. Which images are in use is asked inside the
 * store's write, so no install can make one in use between the answer and the removal.
 */
import { SysctrError } from '../errors.js';
import { prune, type PruneResult } from '../store/gc.js';
import type { Store } from '../store/store.js';
import type { ImageRecord } from '../store/types.js';
import { findImage } from './find.js';

export const UNNAMED = '<none>@';

/** image id -> who uses it (e.g. NAME.0); read from the deployments by the caller's function */
export type InUse = () => Map<string, string[]>;

export async function deleteImages(
  store: Store,
  refs: string[],
  opts: { force?: boolean; inUse?: InUse; dryRun?: boolean } = {},
): Promise<{ removed: string[]; kept: string[]; freed: PruneResult }> {
  return store.write((view) => {
    const targets: ImageRecord[] = [];
    for (const r of refs) {
      const img = findImage(view, r);
      if (!img) throw new SysctrError(`image ${r} is not in the store`, { hint: 'see sysctr images list' });
      targets.push(img);
    }
    const inUse = opts.inUse?.() ?? new Map<string, string[]>();
    const all = view.images.list();
    const names = new Set(targets.map((t) => t.name));
    const kept: string[] = [];
    for (const img of targets) {
      const users = inUse.get(img.id);
      const otherName = all.some((i) => i.id === img.id && !names.has(i.name));
      if (!users || otherName) continue;
      if (!opts.force) {
        throw new SysctrError(`image ${img.name} is used by ${users.join(', ')}`, {
          hint: 'uninstall or update those containers first, or use --force (the content stays while they use it)',
        });
      }
      kept.push(img.id);
    }
    const unnamed = [...new Set(kept)].map((id) => ({ ...targets.find((t) => t.id === id)!, name: `${UNNAMED}${id}` }));
    if (opts.dryRun) {
      // the same answer from the list the delete would leave, and nothing written
      const left = [...all.filter((i) => !names.has(i.name)), ...unnamed];
      return { removed: all.filter((i) => names.has(i.name)).map((i) => i.name), kept, freed: prune(view, { dryRun: true, images: left }) };
    }
    const removed = view.images.remove([...names]).map((i) => i.name);
    for (const rec of unnamed) view.images.put(rec);
    return { removed, kept, freed: prune(view) };
  });
}

/** Removes unnamed images no deployment uses any more, then unreferenced content. */
export async function pruneImages(store: Store, inUse: InUse, opts: { dryRun?: boolean } = {}): Promise<PruneResult & { images: number }> {
  return store.write((view) => {
    const used = inUse();
    const isStale = (i: { name: string; id: string }) => i.name.startsWith(UNNAMED) && !used.has(i.id);
    const stale = view.images.list().filter(isStale).map((i) => i.name);
    if (opts.dryRun) return { ...prune(view, { dryRun: true, images: view.images.list().filter((i) => !isStale(i)) }), images: stale.length };
    view.images.remove(stale);
    return { ...prune(view), images: stale.length };
  });
}

/**
 * Deleting and pruning images. An image a deployment (live or rollback) uses is refused unless
 * forced; forced, it loses its name but is kept as `<none>@ID` so its content stays in the store
 * for as long as a deployment needs it.
 */
import { SysctrError } from '../errors.js';
import { prune, type PruneResult } from '../store/gc.js';
import type { Store } from '../store/store.js';

export const UNNAMED = '<none>@';

export async function deleteImages(
  store: Store,
  refs: string[],
  opts: { force?: boolean; inUse?: Map<string, string[]> } = {},
): Promise<{ removed: string[]; kept: string[]; freed: PruneResult }> {
  const inUse = opts.inUse ?? new Map<string, string[]>();
  return store.withLock(async () => {
    const targets = [];
    for (const r of refs) {
      const img = await store.findImage(r);
      if (!img) throw new SysctrError(`image ${r} is not in the store`, { hint: 'see sysctr images list' });
      targets.push(img);
    }
    const all = await store.listImages();
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
    const removed = (await store.removeImages([...names])).map((i) => i.name);
    for (const id of new Set(kept)) {
      const rec = targets.find((t) => t.id === id)!;
      await store.putImage({ ...rec, name: `${UNNAMED}${id}` });
    }
    return { removed, kept, freed: await prune(store) };
  });
}

/** Removes unnamed images no deployment uses any more, then unreferenced content. */
export async function pruneImages(store: Store, inUse: Map<string, string[]>): Promise<PruneResult & { images: number }> {
  return store.withLock(async () => {
    const stale = (await store.listImages()).filter((i) => i.name.startsWith(UNNAMED) && !inUse.has(i.id)).map((i) => i.name);
    await store.removeImages(stale);
    return { ...(await prune(store)), images: stale.length };
  });
}

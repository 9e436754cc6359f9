/** Deleting images: names first, then the content nothing else uses. */
import { SysctrError } from '../errors.js';
import type { Paths } from '../paths.js';
import { prune, type PruneResult } from '../store/gc.js';
import type { Store } from '../store/store.js';

export async function deleteImages(
  store: Store,
  _paths: Paths,
  refs: string[],
  _opts: { force?: boolean } = {},
): Promise<{ removed: string[]; freed: PruneResult }> {
  return store.withLock(async () => {
    const names: string[] = [];
    for (const r of refs) {
      const img = await store.findImage(r);
      if (!img) throw new SysctrError(`image ${r} is not in the store`, { hint: 'see sysctr images list' });
      names.push(img.name);
    }
    const removed = (await store.removeImages(names)).map((i) => i.name);
    return { removed, freed: await prune(store) };
  });
}

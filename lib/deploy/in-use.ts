/** Which images the deployments use (live and rollback), so the store keeps them. */
import type { Paths } from '../paths.js';
import { containerPaths, installedNames, readInfo } from './state.js';

/** image id -> the containers (NAME.0 / NAME.1) whose deployment uses it */
export function imagesInUse(paths: Pick<Paths, 'root'>): Map<string, string[]> {
  const used = new Map<string, string[]>();
  for (const name of installedNames(paths.root)) {
    const c = containerPaths(paths, name);
    for (const n of [0, 1] as const) {
      const info = readInfo(c.deployment(n));
      if (!info?.imageId || info.rootfs) continue;
      used.set(info.imageId, [...(used.get(info.imageId) ?? []), `${name}.${n}`]);
    }
  }
  return used;
}

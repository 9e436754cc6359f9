/**
 * Which images the deployments use (live and rollback, and installs under way), so the store
 * keeps them. The store asks this inside its write (lib/image/delete.ts): an install writes its
 * journal, naming the image, before its read of the store ends, so it is seen here from then on.
 */
import fs from 'node:fs';
import type { Paths } from '../paths.js';
import { containerPaths, installedNames, readInfo, readJournal } from './state.js';

/** image id -> the containers (NAME.0 / NAME.1, or NAME (installing)) whose deployment uses it */
export function imagesInUse(paths: Pick<Paths, 'root'>): Map<string, string[]> {
  const used = new Map<string, string[]>();
  const add = (id: string, who: string) => used.set(id, [...(used.get(id) ?? []), who]);
  for (const name of installedNames(paths.root)) {
    const c = containerPaths(paths, name);
    for (const n of [0, 1] as const) {
      const info = readInfo(c.deployment(n));
      if (!info?.imageId || info.rootfs) continue;
      add(info.imageId, `${name}.${n}`);
    }
  }
  for (const name of journalNames(paths.root)) {
    const j = readJournal(containerPaths(paths, name));
    if (j?.op === 'install' && typeof j.imageId === 'string' && !used.get(j.imageId)?.some((w) => w.startsWith(`${name}.`))) {
      add(j.imageId, `${name} (installing)`);
    }
  }
  return used;
}

/** Names with a journal (ROOT/.NAME.journal): an operation under way or cut short. */
function journalNames(root: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return [];
  }
  return names.filter((n) => n.startsWith('.') && n.endsWith('.journal') && n.length > '..journal'.length).map((n) => n.slice(1, -'.journal'.length));
}

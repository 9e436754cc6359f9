/**
 * The compatibility corpus: real image sources written for Project Atomic (their /exports files),
 * kept outside the project. SYSCTR_COMPAT_DIR names it; by default it is `shared/compat` beside
 * the project directory.
 */
import fs from 'node:fs';
import path from 'node:path';
import { projectDir } from './cli.js';

export const compatDir = process.env.SYSCTR_COMPAT_DIR ?? path.resolve(projectDir, '../shared/compat');

/** The corpus' groups of images, each a folder of image folders. */
export const COMPAT_GROUPS = ['atomic-system-containers', 'atomic-tests'] as const;

export interface CompatImage {
  group: (typeof COMPAT_GROUPS)[number];
  name: string;
  dir: string;
}

/** Every image of the corpus, by group and name; [] when the corpus is not here. */
export function compatImages(): CompatImage[] {
  return COMPAT_GROUPS.flatMap((group) => {
    const g = path.join(compatDir, group);
    if (!fs.existsSync(g)) return [];
    return fs
      .readdirSync(g, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort()
      .map((name) => ({ group, name, dir: path.join(g, name) }));
  });
}

/** Why the corpus cannot be read, or undefined. */
export function missingCompat(): string | undefined {
  return fs.existsSync(compatDir) ? undefined : `the compat corpus is missing at ${compatDir} (set SYSCTR_COMPAT_DIR to it)`;
}

/**
 * A full disk (or quota) while the store is written: the one error a user can act on, said as
 * such, naming the filesystem, what is free and what the image needs, instead of an errno.
 */
import fs from 'node:fs';
import path from 'node:path';
import { errorCodeOf, SysctrError } from '../errors.js';

const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']);

export function isNoSpace(err: unknown): boolean {
  return NO_SPACE.has(errorCodeOf(err) ?? '');
}

/** The mount point holding `p`: the longest mount point in /proc/self/mountinfo that prefixes it. */
export function mountPointOf(p: string): string {
  let best = '/';
  try {
    const real = fs.realpathSync(p);
    for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      // field 5 is the mount point, with spaces and such octal-escaped
      const mp = line.split(' ')[4]?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
      if (mp && (real === mp || real.startsWith(mp.endsWith('/') ? mp : `${mp}/`)) && mp.length > best.length) best = mp;
    }
  } catch {
    /* no /proc: say / */
  }
  return best;
}

export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/**
 * The error for a write into `dir` that found no space. `needed`: what the operation was writing
 * (a pull: the compressed size of the layers it fetches, a lower bound of what they take unpacked).
 */
export function noSpaceError(dir: string, needed: { bytes: number; what: string; why: string }, cause: unknown): SysctrError {
  let free = '';
  try {
    const st = fs.statfsSync(dir);
    free = `${humanBytes(st.bavail * st.bsize)} free`;
  } catch {
    free = 'free space unknown';
  }
  const quota = errorCodeOf(cause) === 'EDQUOT';
  const mount = mountPointOf(path.resolve(dir));
  return new SysctrError(
    `${quota ? 'disk quota exceeded' : 'no space left'} on ${mount} (the filesystem holding ${dir}; ${free}): ${needed.what} needs at least ${humanBytes(needed.bytes)} (${needed.why})`,
    { hint: 'free some space (sysctr images prune removes what no image uses) or choose a bigger place with --root DIR, then run the command again; nothing of it was kept', cause },
  );
}

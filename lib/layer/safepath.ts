/**
 * Paths inside a root filesystem. Tar entry names are normalised to "a/b/c" (no leading "./",
 * no trailing "/"); names that are absolute or climb with ".." are refused, never rewritten.
 */
export class UnsafePathError extends Error {}

export function normalizeEntryPath(name: string, what = 'entry'): string {
  if (name.startsWith('/')) throw new UnsafePathError(`${what} "${name}" is an absolute path`);
  const parts: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') throw new UnsafePathError(`${what} "${name}" climbs out of the root with ".."`);
    parts.push(p);
  }
  return parts.join('/');
}

export function dirname(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}

export function basename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

/**
 * Joins a symlink's target to the directory holding the link, as the container sees it: an
 * absolute target starts at the container's root. Returns undefined when ".." would climb above
 * the root, i.e. when following the link from the host would leave the rootfs.
 */
export function resolveLinkTarget(linkDir: string, target: string): string[] | undefined {
  const parts = target.startsWith('/') ? [] : linkDir.split('/').filter(Boolean);
  for (const p of target.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (parts.length === 0) return undefined;
      parts.pop();
    } else parts.push(p);
  }
  return parts;
}

/**
 * Follows a path's components through symlinks, as the container sees them. `linkAt` answers the
 * target of the symlink at a resolved component list, or undefined when it is not a symlink.
 * Throws when a link would lead outside the root.
 */
export function resolveThroughLinks(
  path: string,
  followLast: boolean,
  what: string,
  linkAt: (parts: string[]) => string | undefined,
  shown = path,
): string[] {
  let pending = path ? path.split('/') : [];
  const done: string[] = [];
  let hops = 0;
  while (pending.length) {
    const name = pending.shift()!;
    const isLast = pending.length === 0;
    const link = !isLast || followLast ? linkAt([...done, name]) : undefined;
    if (link !== undefined) {
      if (++hops > 40) throw new UnsafePathError(`${what} "${shown}": too many levels of symbolic links`);
      const target = resolveLinkTarget(done.join('/'), link);
      if (!target) {
        throw new UnsafePathError(
          `${what} "${shown}" would be written through symlink "${[...done, name].join('/')}" -> "${link}", outside the root filesystem`,
        );
      }
      done.length = 0;
      pending = [...target, ...pending];
      continue;
    }
    done.push(name);
  }
  return done;
}

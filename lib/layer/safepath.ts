/**
 * Paths inside a root filesystem. Tar entry names are normalised to "a/b/c" (no leading "/" or
 * "./", no trailing "/"), taken relative to the root as umoci does: "/usr/bin/x" (GNU tar -P, or a
 * tree inserted at "/") is "usr/bin/x", and "/", "." and "./" name the root itself (""). ".."
 * is resolved lexically; a name that climbs above the root with it is refused, never rewritten.
 */
export class UnsafePathError extends Error {}

export function normalizeEntryPath(name: string, what = 'entry'): string {
  // the common case: nothing to resolve
  if (!name.includes('..') && !name.includes('//') && !name.includes('./') && name[0] !== '/' && name !== '.' && !name.endsWith('/.')) {
    return name.endsWith('/') ? name.slice(0, -1) : name;
  }
  const parts: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (!parts.length) throw new UnsafePathError(`${what} "${name}" climbs out of the root with ".."`);
      parts.pop();
    } else parts.push(p);
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

/**
 * Merging layers into the final root filesystem tree, as an OCI runtime's unpacker would:
 * layers base first; whiteouts and opaque markers of a layer hide lower layers' content; an entry
 * below a symlinked directory lands where the link points (as the container sees it); anything
 * that would land outside the root is refused.
 */
import type { TreeEntry } from '../store/types.js';
import { resolveLinkTarget, UnsafePathError } from './safepath.js';

export interface TreeNode {
  entry: TreeEntry;
  /** index of the layer that wrote this node */
  layer: number;
  children?: Map<string, TreeNode>;
}

const ROOT_ENTRY: TreeEntry = { path: '', type: 'd', mode: 0o755, uid: 0, gid: 0, mtime: 0 };

export class MergedTree {
  readonly root: TreeNode = { entry: ROOT_ENTRY, layer: -1, children: new Map() };

  /** Follows the path's components through symlinks; returns the real component list. */
  private resolve(path: string, followLast: boolean, what: string): string[] {
    let pending = path ? path.split('/') : [];
    const done: string[] = [];
    let hops = 0;
    while (pending.length) {
      const name = pending.shift()!;
      const node = this.lookupParts([...done, name]);
      const isLast = pending.length === 0;
      if (node && node.entry.type === 'l' && (!isLast || followLast)) {
        if (++hops > 40) throw new UnsafePathError(`${what} "${path}": too many levels of symbolic links`);
        const target = resolveLinkTarget(done.join('/'), node.entry.link ?? '');
        if (!target) {
          throw new UnsafePathError(
            `${what} "${path}" would be written through symlink "${[...done, name].join('/')}" -> "${node.entry.link}", outside the root filesystem`,
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

  private lookupParts(parts: string[]): TreeNode | undefined {
    let n: TreeNode | undefined = this.root;
    for (const p of parts) {
      n = n.children?.get(p);
      if (!n) return undefined;
    }
    return n;
  }

  lookup(path: string): TreeNode | undefined {
    try {
      return this.lookupParts(this.resolve(path, true, 'path'));
    } catch {
      return undefined;
    }
  }

  /** The parent directory node of parts, creating missing directories as tar does. */
  private parentDir(parts: string[], layer: number): TreeNode {
    let n = this.root;
    for (const p of parts.slice(0, -1)) {
      let c = n.children!.get(p);
      if (!c || c.entry.type !== 'd') {
        c = { entry: { path: '', type: 'd', mode: 0o755, uid: 0, gid: 0, mtime: 0 }, layer, children: new Map() };
        n.children!.set(p, c);
      }
      n = c;
    }
    return n;
  }

  applyLayer(entries: TreeEntry[], layer: number): void {
    // Whiteouts and opaque markers only hide what lower layers wrote: apply them first.
    for (const e of entries) {
      if (e.type !== 'w' && e.type !== 'o') continue;
      const parts = this.resolve(e.path, e.type === 'o', 'whiteout');
      const node = e.type === 'o' ? this.lookupParts(parts) : this.lookupParts(parts.slice(0, -1));
      if (!node?.children) continue;
      if (e.type === 'o') node.children.clear();
      else node.children.delete(parts[parts.length - 1]);
    }
    for (const e of entries) {
      if (e.type === 'w' || e.type === 'o') continue;
      const parts = this.resolve(e.path, false, 'entry');
      if (parts.length === 0) {
        if (e.type === 'd') this.root.entry = { ...e, path: '' };
        continue;
      }
      const parent = this.parentDir(parts, layer);
      const name = parts[parts.length - 1];
      const existing = parent.children!.get(name);
      let entry = e;
      if (e.type === 'h') {
        const targetParts = this.resolve(e.link!, false, `hardlink target of "${e.path}"`);
        const target = this.lookupParts(targetParts);
        if (!target || target.entry.type !== 'f') {
          throw new UnsafePathError(`hardlink "${e.path}" points at "${e.link}", which is not a regular file in the image`);
        }
        entry = { ...target.entry, path: e.path };
      }
      if (entry.type === 'd' && existing?.entry.type === 'd') {
        existing.entry = entry;
        existing.layer = layer;
        continue;
      }
      parent.children!.set(name, { entry, layer, children: entry.type === 'd' ? new Map() : undefined });
    }
  }

  /** Depth-first, parents before children; yields [relative path, node]. */
  *walk(): Generator<[string, TreeNode]> {
    const stack: Array<[string, TreeNode]> = [['', this.root]];
    while (stack.length) {
      const [p, n] = stack.pop()!;
      yield [p, n];
      if (n.children) {
        const kids = [...n.children.entries()].sort((a, b) => (a[0] < b[0] ? 1 : -1));
        for (const [name, c] of kids) stack.push([p ? `${p}/${name}` : name, c]);
      }
    }
  }
}

export function mergeLayers(layers: TreeEntry[][]): MergedTree {
  const t = new MergedTree();
  layers.forEach((entries, i) => t.applyLayer(entries, i));
  return t;
}

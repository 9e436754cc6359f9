/**
 * Merging layers into the final root filesystem tree, as an OCI runtime's unpacker would:
 * layers base first; whiteouts and opaque markers of a layer hide lower layers' content; an entry
 * below a symlinked directory lands where the link points (as the container sees it); anything
 * that would land outside the root is refused.
 */
import type { TreeEntry } from '../store/types.js';
import { resolveThroughLinks, UnsafePathError } from '../layer/safepath.js';

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
    return resolveThroughLinks(path, followLast, what, this.linkAt);
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
  private parentDir(parts: string[], layer: number): { node: TreeNode; replaced: boolean } {
    let n = this.root;
    let replaced = false;
    for (let i = 0; i < parts.length - 1; i++) {
      const p = parts[i];
      let c = n.children!.get(p);
      if (!c || c.entry.type !== 'd') {
        replaced ||= !!c;
        c = { entry: { path: '', type: 'd', mode: 0o755, uid: 0, gid: 0, mtime: 0 }, layer, children: new Map() };
        n.children!.set(p, c);
      }
      n = c;
    }
    return { node: n, replaced };
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
    // Entries come grouped by directory: remember where each parent path resolved to. Anything
    // that could change a resolution (a new symlink, a replaced node) empties the cache.
    const parents = new Map<string, TreeNode>();
    for (const e of entries) {
      if (e.type === 'w' || e.type === 'o') continue;
      if (!e.path) {
        if (e.type === 'd') this.root.entry = { ...e, path: '' };
        continue;
      }
      const slash = e.path.lastIndexOf('/');
      const parentPath = slash < 0 ? '' : e.path.slice(0, slash);
      const name = e.path.slice(slash + 1);
      let parent = parents.get(parentPath);
      if (!parent) {
        const parts = resolveThroughLinks(parentPath, true, 'entry', this.linkAt, e.path);
        const made = this.parentDir([...parts, name], layer);
        parent = made.node;
        if (made.replaced) parents.clear();
        parents.set(parentPath, parent);
      }
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
      if (existing || entry.type === 'l') parents.clear();
      parent.children!.set(name, { entry, layer, children: entry.type === 'd' ? new Map() : undefined });
    }
  }

  private linkAt = (parts: string[]): string | undefined => {
    const n = this.lookupParts(parts);
    return n?.entry.type === 'l' ? (n.entry.link ?? '') : undefined;
  };

  /** Depth-first, parents before children; yields [relative path, node]. */
  *walk(): Generator<[string, TreeNode]> {
    const stack: Array<[string, TreeNode]> = [['', this.root]];
    while (stack.length) {
      const [p, n] = stack.pop()!;
      yield [p, n];
      if (n.children) {
        for (const [name, c] of n.children) stack.push([p ? `${p}/${name}` : name, c]);
      }
    }
  }
}

export function mergeLayers(layers: TreeEntry[][]): MergedTree {
  const t = new MergedTree();
  layers.forEach((entries, i) => t.applyLayer(entries, i));
  return t;
}

interface LinkNode {
  link?: string;
  children?: Map<string, LinkNode>;
}

/**
 * The escape check of a merge, keeping only symlinks in memory: what a pull runs over layers of
 * any size before it records an image. Entries are checked in order as they are seen. Links are
 * kept in a tree of path components, so a whiteout drops everything under a path in one step
 * (a flat map had to be scanned per whiteout: 40,000 whiteouts over 40,000 links took 15 s).
 */
export class LinkTracker {
  private readonly root: LinkNode = {};

  private node(parts: string[], create: boolean): LinkNode | undefined {
    let n: LinkNode = this.root;
    for (const p of parts) {
      let c = n.children?.get(p);
      if (!c) {
        if (!create) return undefined;
        c = {};
        (n.children ??= new Map()).set(p, c);
      }
      n = c;
    }
    return n;
  }

  private linkAt = (parts: string[]) => this.node(parts, false)?.link;

  private drop(parts: string[], subtree: boolean): void {
    if (!parts.length) {
      if (subtree) this.root.children = undefined;
      return;
    }
    const parent = this.node(parts.slice(0, -1), false);
    const name = parts[parts.length - 1];
    const n = parent?.children?.get(name);
    if (!n) return;
    if (subtree) parent!.children!.delete(name);
    else n.link = undefined;
  }

  check(e: TreeEntry): void {
    if (e.type === 'w' || e.type === 'o') {
      const real = resolveThroughLinks(e.path, e.type === 'o', 'whiteout', this.linkAt);
      // an opaque directory keeps itself (and a link named by it is not a directory): drop below it
      if (e.type === 'o') {
        const n = this.node(real, false);
        if (n) n.children = undefined;
      } else this.drop(real, true);
      return;
    }
    const real = resolveThroughLinks(e.path, false, 'entry', this.linkAt);
    if (e.type === 'h') {
      const target = resolveThroughLinks(e.link!, false, `hardlink target of "${e.path}"`, this.linkAt);
      if (this.linkAt(target) !== undefined) {
        throw new UnsafePathError(`hardlink "${e.path}" points at "${e.link}", which is a symlink, not a regular file`);
      }
    }
    if (e.type === 'l') {
      const n = this.node(real, true)!;
      n.link = e.link ?? '';
      n.children = undefined;
    } else this.drop(real, e.type !== 'd');
  }
}

/**
 * The narrow views the store hands out under its lock (store.ts read/write): one per kind of
 * content. A view works only while the read or write that made it runs; after that every call
 * throws, so nothing can keep using store paths the lock no longer protects.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SysctrError } from '../errors.js';
import { readJson, sha256, syncFilesystem, writeFileAtomic } from '../fsutil.js';
import type { ObjectDir } from './objects.js';
import type { ImageRecord, TreeEntry } from './types.js';

export interface LayerMeta {
  diffId: string;
  /** digests of the blobs this layer was imported from (compressed forms) */
  blobs: string[];
  size: number;
  files: number;
  imported: string;
}

interface ImagesFile {
  version: 1;
  images: ImageRecord[];
}

const hex = (digest: string) => digest.replace(/^sha256:/, '');
const DIGEST = /^[0-9a-f]{64}$/;

/** Shared by the views of one read or write: open while it runs. */
export class Session {
  open = true;
  constructor(readonly dir: string, readonly layerCache: Map<string, TreeEntry[]>, readonly writable: boolean) {}
  check(): void {
    if (!this.open) throw new Error('a store view was used after its read or write ended');
  }
  checkWrite(): void {
    this.check();
    if (!this.writable) throw new Error('a store read view was used to change the store');
  }
}

export class ObjectsRead {
  constructor(protected s: Session, protected objs: ObjectDir) {}
  /** The object's file: link or copy it while the view is open. */
  path(id: string): string {
    this.s.check();
    return this.objs.pathOf(id);
  }
  has(id: string): boolean {
    this.s.check();
    return this.objs.has(id);
  }
  list(): string[] {
    this.s.check();
    return [...this.objs.list()];
  }
}

export class ObjectsWrite extends ObjectsRead {
  /** The object directory, for the layer import that creates objects. */
  get dir(): ObjectDir {
    this.s.checkWrite();
    return this.objs;
  }
  rehash(id: string, xattrs?: Record<string, string>): string {
    this.s.check();
    return this.objs.rehash(id, xattrs);
  }
  /** Removes an object; returns the bytes freed. */
  remove(id: string): number {
    this.s.checkWrite();
    const p = this.objs.pathOf(id);
    let size = 0;
    try {
      size = fs.lstatSync(p).size;
    } catch {
      return 0;
    }
    fs.rmSync(p, { force: true });
    return size;
  }
}

export class LayersRead {
  constructor(protected s: Session) {}
  protected dirOf(diffId: string): string {
    return path.join(this.s.dir, 'layers', hex(diffId));
  }
  has(diffId: string): boolean {
    this.s.check();
    return fs.existsSync(path.join(this.dirOf(diffId), 'tree.jsonl'));
  }
  meta(diffId: string): LayerMeta | undefined {
    this.s.check();
    return readJson<LayerMeta>(path.join(this.dirOf(diffId), 'meta.json'));
  }
  list(): string[] {
    this.s.check();
    return fs.readdirSync(path.join(this.s.dir, 'layers')).filter((n) => DIGEST.test(n)).map((n) => `sha256:${n}`);
  }
  /** The layer's listing file, for readers that stream it. */
  treeFile(diffId: string): string {
    this.s.check();
    return path.join(this.dirOf(diffId), 'tree.jsonl');
  }
  /** The layer's listing, parsed (kept in memory for the store's lifetime). */
  tree(diffId: string): TreeEntry[] {
    this.s.check();
    let t = this.s.layerCache.get(diffId);
    // kept from an earlier read of this process: another command may have removed it since
    if (t && !this.has(diffId)) {
      this.s.layerCache.delete(diffId);
      t = undefined;
    }
    if (!t) {
      let text: string;
      try {
        text = fs.readFileSync(this.treeFile(diffId), 'utf8');
      } catch {
        throw new SysctrError(`layer ${diffId} is missing from the store`, { hint: 'run sysctr fsck --repair, then pull the image again' });
      }
      t = [];
      for (const line of text.split('\n')) if (line) t.push(JSON.parse(line) as TreeEntry);
      this.s.layerCache.set(diffId, t);
    }
    return t;
  }
}

export class LayersWrite extends LayersRead {
  /**
   * Commits a layer: its listing (a JSONL file written by the import, in tmp/) and meta, put in a
   * temp dir that is renamed into place whole. False when the layer was there already.
   */
  commit(meta: LayerMeta, treeFile: string): boolean {
    this.s.checkWrite();
    if (this.has(meta.diffId)) {
      fs.rmSync(treeFile, { force: true });
      return false;
    }
    const tmp = fs.mkdtempSync(path.join(this.s.dir, 'tmp', 'layer-'));
    fs.renameSync(treeFile, path.join(tmp, 'tree.jsonl'));
    fs.writeFileSync(path.join(tmp, 'meta.json'), JSON.stringify(meta, null, 2));
    fs.renameSync(tmp, this.dirOf(meta.diffId));
    return true;
  }
  remove(diffId: string): void {
    this.s.checkWrite();
    this.s.layerCache.delete(diffId);
    fs.rmSync(this.dirOf(diffId), { recursive: true, force: true });
  }
}

export class BlobsRead {
  constructor(protected s: Session) {}
  protected pathOf(digest: string): string {
    this.s.check();
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new SysctrError(`unsupported digest ${digest}`);
    return path.join(this.s.dir, 'blobs', 'sha256', hex(digest));
  }
  has(digest: string): boolean {
    return fs.existsSync(this.pathOf(digest));
  }
  get(digest: string): Buffer {
    try {
      return fs.readFileSync(this.pathOf(digest));
    } catch {
      throw new SysctrError(`blob ${digest} is missing from the store`, { hint: 'run sysctr fsck --repair, then pull the image again' });
    }
  }
  list(): string[] {
    this.s.check();
    return fs.readdirSync(path.join(this.s.dir, 'blobs', 'sha256')).filter((n) => DIGEST.test(n)).map((n) => `sha256:${n}`);
  }
}

export class BlobsWrite extends BlobsRead {
  put(digest: string, bytes: Buffer): void {
    this.s.checkWrite();
    if (`sha256:${sha256(bytes)}` !== digest) throw new Error(`blob does not match ${digest}`);
    const p = this.pathOf(digest);
    // made durable with everything else of the pull, by the syncfs before images.json names it
    if (!fs.existsSync(p)) writeFileAtomic(p, bytes, 0o644, { durable: false });
  }
  remove(digest: string): void {
    this.s.checkWrite();
    fs.rmSync(this.pathOf(digest), { force: true });
  }
}

/**
 * Merged trees, as bytes under the chain id (hex) of their layers. What they hold and when they
 * are made is lib/rootfs's business; here they are derived data the store keeps and prunes.
 */
export class TreesRead {
  constructor(protected s: Session) {}
  protected fileOf(id: string): string {
    this.s.check();
    if (!DIGEST.test(id)) throw new Error(`bad tree id ${id}`);
    return path.join(this.s.dir, 'trees', `${id}.json`);
  }
  has(id: string): boolean {
    return fs.existsSync(this.fileOf(id));
  }
  get(id: string): Buffer | undefined {
    try {
      return fs.readFileSync(this.fileOf(id));
    } catch {
      return undefined;
    }
  }
  list(): string[] {
    this.s.check();
    let names: string[];
    try {
      names = fs.readdirSync(path.join(this.s.dir, 'trees'));
    } catch {
      return [];
    }
    return names.filter((n) => /^[0-9a-f]{64}\.json$/.test(n)).map((n) => n.slice(0, 64));
  }
  /**
   * Stores a tree (best effort: a store this process cannot write still checks out). Allowed in a
   * read: it is a cache written by rename, and only a write (which no read overlaps) removes it.
   */
  put(id: string, bytes: Buffer | string): void {
    const dest = this.fileOf(id);
    try {
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      const tmp = path.join(this.s.dir, 'tmp', `tree-${process.pid}-${crypto.randomBytes(6).toString('hex')}`);
      fs.writeFileSync(tmp, bytes, { mode: 0o644 });
      fs.renameSync(tmp, dest);
    } catch {
      // derived data: the next command tries again
    }
  }
}

export class TreesWrite extends TreesRead {
  remove(id: string): void {
    this.s.checkWrite();
    fs.rmSync(this.fileOf(id), { force: true });
  }
}

/** images.json: reference name -> image record. Names arrive normalised (lib/image/reference.ts). */
export class ImagesRead {
  constructor(protected s: Session) {}
  protected file(): string {
    this.s.check();
    return path.join(this.s.dir, 'images.json');
  }
  list(): ImageRecord[] {
    return readJson<ImagesFile>(this.file())?.images ?? [];
  }
  get(name: string): ImageRecord | undefined {
    return this.list().find((i) => i.name === name);
  }
  /** Every name the image with this id has. */
  withId(id: string): ImageRecord[] {
    return this.list().filter((i) => i.id === id);
  }
}

export class ImagesWrite extends ImagesRead {
  /** Records (or replaces) an image under its name. */
  put(rec: ImageRecord): void {
    this.s.checkWrite();
    const images = this.list().filter((i) => i.name !== rec.name);
    images.push(rec);
    this.save(images);
  }
  /** Removes names; returns the records removed. */
  remove(names: string[]): ImageRecord[] {
    this.s.checkWrite();
    const all = this.list();
    const removed = all.filter((i) => names.includes(i.name));
    if (removed.length) this.save(all.filter((i) => !names.includes(i.name)));
    return removed;
  }
  /**
   * images.json is the store's only name for what it holds: the objects, layers and blobs it names
   * reach the disk first (one syncfs for all of them), then it is written durably. After a power
   * cut it names the old set of images or the new, and never one whose content was lost.
   */
  private save(images: ImageRecord[]): void {
    images.sort((a, b) => (a.name < b.name ? -1 : 1));
    syncFilesystem(this.s.dir);
    writeFileAtomic(this.file(), JSON.stringify({ version: 1, images } satisfies ImagesFile, null, 2) + '\n');
  }
}

/** What a read hands out: nothing in it can remove content. */
export interface ReadView {
  readonly dir: string;
  readonly objects: ObjectsRead;
  readonly layers: LayersRead;
  readonly blobs: BlobsRead;
  readonly trees: TreesRead;
  readonly images: ImagesRead;
}

/** What a write hands out; the lock is exclusive, so nobody reads what it changes half-way. */
export interface WriteView extends ReadView {
  readonly objects: ObjectsWrite;
  readonly layers: LayersWrite;
  readonly blobs: BlobsWrite;
  readonly trees: TreesWrite;
  readonly images: ImagesWrite;
}

export function makeView(s: Session, objs: ObjectDir): WriteView {
  return {
    dir: s.dir,
    objects: new ObjectsWrite(s, objs),
    layers: new LayersWrite(s),
    blobs: new BlobsWrite(s),
    trees: new TreesWrite(s),
    images: new ImagesWrite(s),
  };
}

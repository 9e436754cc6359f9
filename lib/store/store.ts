/**
 * The content-addressed store (docs/design.md, the store):
 *
 *   STORE/lock                      flock(2) taken by every mutation
 *   STORE/tmp/                      temp files; anything here is garbage from a killed command
 *   STORE/objects/ab/cdef…          file objects (see objects.ts)
 *   STORE/layers/<diff-id hex>/     tree.json (the layer's listing) + meta.json, renamed in whole
 *   STORE/blobs/sha256/<hex>        manifests, indexes, configs, by digest
 *   STORE/trees/<chain id hex>.json an image's layers merged, flat, in checkout order (trees.ts)
 *   STORE/images.json               reference name -> image record, replaced atomically
 *
 * Write order is objects -> layers -> blobs -> images.json, each by rename, so a killed import
 * leaves only unreferenced content, never a reference to something missing.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SysctrError } from '../errors.js';
import { ensurePrivateDir, isPermissionError, readJson, sha256, syncFilesystem, writeFileAtomic } from '../fsutil.js';
import { familiarName, normalizeName } from '../image/reference.js';
import type { ImageConfig } from '../image/types.js';
import { UnsafePathError } from '../layer/safepath.js';
import { mergeLayers, type MergedTree } from '../rootfs/tree.js';
import { acquireLock, type HeldLock } from './lock.js';
import { ObjectDir } from './objects.js';
import { chainId, flatten, parseFlat, type FlatTree } from '../rootfs/flat.js';
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

/** Images up to this many layer entries get their merged tree at pull time (~30 MB of memory). */
const MERGE_AT_PULL_MAX_ENTRIES = 60_000;

export class Store {
  readonly objects: ObjectDir;
  private lockDepth = 0;
  private held?: HeldLock;
  private treeCache = new Map<string, TreeEntry[]>();

  private constructor(readonly dir: string) {
    this.objects = new ObjectDir(path.join(dir, 'objects'), path.join(dir, 'tmp'));
  }

  static async open(dir: string): Promise<Store> {
    const s = new Store(dir);
    try {
      // The store lives in the state root (ROOT/store), beside the deployments that hardlink its
      // objects: both are made the owner's alone. A root at / is left as it is.
      const stateRoot = path.dirname(dir);
      if (stateRoot !== path.parse(stateRoot).root) ensurePrivateDir(stateRoot);
      ensurePrivateDir(dir);
      for (const d of ['tmp', 'objects', 'layers', 'blobs/sha256']) fs.mkdirSync(path.join(dir, d), { recursive: true });
    } catch (err) {
      const readOnly = (err as NodeJS.ErrnoException).code === 'EROFS';
      if (!readOnly && !isPermissionError(err)) throw err;
      throw new SysctrError(`cannot use the store at ${dir}: ${readOnly ? 'read-only file system' : 'permission denied'}`, {
        hint: process.getuid?.() === 0 ? 'choose another place with --root DIR' : "run as root, or use your own store with --user (or --root DIR)",
      });
    }
    s.objects.init();
    return s;
  }

  // ---- locking -------------------------------------------------------------------------------

  /**
   * Runs fn holding the store lock (re-entrant within this process). Writers hold it exclusive;
   * readers that need content to stay (checkouts) hold it shared, so prune cannot remove what
   * they are linking.
   */
  async withLock<T>(fn: () => Promise<T> | T, opts: { shared?: boolean; onWait?: () => void } = {}): Promise<T> {
    return this.withLockAfter(() => undefined, fn, opts);
  }

  /**
   * withLock, running `meanwhile` (work that needs no lock) while the lock request is under way
   * and passing its result to fn. fn must check that what meanwhile read is still there.
   */
  async withLockAfter<M, T>(
    meanwhile: () => M,
    fn: (m: M) => Promise<T> | T,
    opts: { shared?: boolean; onWait?: () => void } = {},
  ): Promise<T> {
    let m: M;
    if (this.lockDepth === 0) {
      const request = acquireLock(path.join(this.dir, 'lock'), {
        shared: opts.shared,
        onWait: opts.onWait ?? (() => process.stderr.write('waiting for the store lock (another sysctr command is writing)...\n')),
      });
      try {
        m = meanwhile();
      } catch (err) {
        await request.then((h) => h.release(), () => undefined);
        throw err;
      }
      this.held = await request;
      if (!opts.shared) this.cleanTmp();
    } else m = meanwhile();
    this.lockDepth++;
    try {
      return await fn(m);
    } finally {
      if (--this.lockDepth === 0) {
        const h = this.held!;
        this.held = undefined;
        await h.release();
      }
    }
  }

  /** Under the lock nobody else is writing: whatever is in tmp/ was left by a killed command. */
  private cleanTmp(): void {
    const tmp = path.join(this.dir, 'tmp');
    for (const n of fs.readdirSync(tmp)) fs.rmSync(path.join(tmp, n), { recursive: true, force: true });
  }

  // ---- objects and layers --------------------------------------------------------------------

  objectPath(id: string): string {
    return this.objects.pathOf(id);
  }

  private layerDir(diffId: string): string {
    return path.join(this.dir, 'layers', hex(diffId));
  }

  hasLayer(diffId: string): boolean {
    return fs.existsSync(path.join(this.layerDir(diffId), 'tree.jsonl'));
  }

  /**
   * Commits a layer: its listing (a JSONL file written by the import, in tmp/) and meta, put in a
   * temp dir that is renamed into place whole.
   */
  commitLayer(meta: LayerMeta, treeFile: string): boolean {
    const dest = this.layerDir(meta.diffId);
    if (this.hasLayer(meta.diffId)) {
      fs.rmSync(treeFile, { force: true });
      return false;
    }
    const tmp = fs.mkdtempSync(path.join(this.dir, 'tmp', 'layer-'));
    fs.renameSync(treeFile, path.join(tmp, 'tree.jsonl'));
    fs.writeFileSync(path.join(tmp, 'meta.json'), JSON.stringify(meta, null, 2));
    fs.renameSync(tmp, dest);
    return true;
  }

  /** The layer's listing file, for readers that stream it. */
  layerTreeFile(diffId: string): string {
    return path.join(this.layerDir(diffId), 'tree.jsonl');
  }

  removeLayer(diffId: string): void {
    this.treeCache.delete(diffId);
    fs.rmSync(this.layerDir(diffId), { recursive: true, force: true });
  }

  layerMeta(diffId: string): LayerMeta | undefined {
    return readJson<LayerMeta>(path.join(this.layerDir(diffId), 'meta.json'));
  }

  listLayers(): string[] {
    return fs.readdirSync(path.join(this.dir, 'layers')).filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  layerTree(diffId: string): TreeEntry[] {
    let t = this.treeCache.get(diffId);
    if (!t) {
      let text: string;
      try {
        text = fs.readFileSync(this.layerTreeFile(diffId), 'utf8');
      } catch {
        throw new SysctrError(`layer ${diffId} is missing from the store`, { hint: 'run sysctr fsck --repair, then pull the image again' });
      }
      t = [];
      for (const line of text.split('\n')) if (line) t.push(JSON.parse(line) as TreeEntry);
      this.treeCache.set(diffId, t);
    }
    return t;
  }

  async layerTrees(diffIds: string[]): Promise<TreeEntry[][]> {
    return diffIds.map((d) => this.layerTree(d));
  }

  // ---- blobs ---------------------------------------------------------------------------------

  private blobPath(digest: string): string {
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new SysctrError(`unsupported digest ${digest}`);
    return path.join(this.dir, 'blobs', 'sha256', hex(digest));
  }

  putBlob(digest: string, bytes: Buffer): void {
    if (`sha256:${sha256(bytes)}` !== digest) throw new Error(`blob does not match ${digest}`);
    const p = this.blobPath(digest);
    // made durable with everything else of the pull, by the syncfs before images.json names it
    if (!fs.existsSync(p)) writeFileAtomic(p, bytes, 0o644, { durable: false });
  }

  hasBlob(digest: string): boolean {
    return fs.existsSync(this.blobPath(digest));
  }

  getBlob(digest: string): Buffer {
    try {
      return fs.readFileSync(this.blobPath(digest));
    } catch {
      throw new SysctrError(`blob ${digest} is missing from the store`, { hint: 'run sysctr fsck --repair, then pull the image again' });
    }
  }

  listBlobs(): string[] {
    return fs.readdirSync(path.join(this.dir, 'blobs', 'sha256')).filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  removeBlob(digest: string): void {
    fs.rmSync(this.blobPath(digest), { force: true });
  }

  // ---- images --------------------------------------------------------------------------------

  private imagesFile(): string {
    return path.join(this.dir, 'images.json');
  }

  async listImages(): Promise<ImageRecord[]> {
    return readJson<ImagesFile>(this.imagesFile())?.images ?? [];
  }

  /** Records (or replaces) an image under its name, with its merged tree. Call under the lock. */
  async putImage(rec: ImageRecord): Promise<void> {
    // The merged tree is written now for images of ordinary size, so that even the first checkout
    // reads one file. A larger one is merged at its first checkout, which needs the whole tree in
    // memory anyway: a pull's memory must not grow with the image.
    const entries = rec.layers.reduce((n, l) => n + (this.layerMeta(l)?.files ?? Infinity), 0);
    if (entries <= MERGE_AT_PULL_MAX_ENTRIES && !fs.existsSync(this.treeFile(rec.layers))) this.flatTree(rec);
    const images = (await this.listImages()).filter((i) => i.name !== rec.name);
    images.push(rec);
    this.writeImages(images);
  }

  /** Removes names; returns the records removed. Call under the lock. */
  async removeImages(names: string[]): Promise<ImageRecord[]> {
    const all = await this.listImages();
    const removed = all.filter((i) => names.includes(i.name));
    this.writeImages(all.filter((i) => !names.includes(i.name)));
    return removed;
  }

  /**
   * images.json is the store's only name for what it holds: the objects, layers and blobs it names
   * reach the disk first (one syncfs for all of them), then it is written durably. After a power
   * cut it names the old set of images or the new, and never one whose content was lost.
   */
  private writeImages(images: ImageRecord[]): void {
    images.sort((a, b) => (a.name < b.name ? -1 : 1));
    syncFilesystem(this.dir);
    writeFileAtomic(this.imagesFile(), JSON.stringify({ version: 1, images } satisfies ImagesFile, null, 2) + '\n');
  }

  /**
   * Finds an image by full or short name (`etcd:3.5`, `localhost/demo:1`, `demo:1`), or by id
   * (prefix of at least 4 hex digits).
   */
  async findImage(ref: string): Promise<ImageRecord | undefined> {
    const images = await this.listImages();
    const exact = images.find((i) => i.name === ref);
    if (exact) return exact;
    let normalized: string | undefined;
    try {
      normalized = normalizeName(ref);
    } catch {
      normalized = undefined;
    }
    const byName = normalized ? images.find((i) => i.name === normalized) : undefined;
    if (byName) return byName;
    const idPrefix = /^(sha256:)?([0-9a-f]{4,64})$/.exec(ref)?.[2];
    if (idPrefix) {
      const byId = images.filter((i) => hex(i.id).startsWith(idPrefix));
      if (new Set(byId.map((i) => i.id)).size > 1) {
        throw new SysctrError(`image id prefix ${ref} is ambiguous`, { hint: 'give more digits' });
      }
      if (byId.length) return byId[0];
    }
    // A short name matches the last components of a full name: demo:1 -> localhost/demo:1.
    const withTag = ref.includes(':') || ref.includes('@') ? ref : `${ref}:latest`;
    const bySuffix = images.filter((i) => i.name.endsWith(`/${withTag}`) || familiarName(i.name) === withTag);
    if (bySuffix.length > 1) {
      throw new SysctrError(`image name ${ref} is ambiguous: ${bySuffix.map((i) => i.name).join(', ')}`, { hint: 'use the full name' });
    }
    return bySuffix[0];
  }

  async resolveImage(ref: string): Promise<ImageRecord> {
    const img = await this.findImage(ref);
    if (!img) {
      throw new SysctrError(`image ${ref} is not in the store`, { hint: `pull it first (sysctr pull ...), or see sysctr images list` });
    }
    return img;
  }

  async imageConfig(rec: ImageRecord): Promise<ImageConfig> {
    return JSON.parse(this.getBlob(rec.id).toString('utf8')) as ImageConfig;
  }

  async mergedTree(rec: ImageRecord): Promise<MergedTree> {
    return mergeRefusingUnsafe(await this.layerTrees(rec.layers), rec.name);
  }

  // ---- merged trees (derived from the layers; see trees.ts) ----------------------------------

  /** The name (chain id, hex) the merged tree of these layers is stored under. */
  treeId(layers: string[]): string {
    return hex(chainId(layers));
  }

  treeFile(layers: string[]): string {
    return this.treeFileById(this.treeId(layers));
  }

  private treeFileById(id: string): string {
    return path.join(this.dir, 'trees', `${id}.json`);
  }

  /** Chain ids (hex) of the stored merged trees. */
  listTrees(): string[] {
    let names: string[];
    try {
      names = fs.readdirSync(path.join(this.dir, 'trees'));
    } catch {
      return [];
    }
    return names.filter((n) => /^[0-9a-f]{64}\.json$/.test(n)).map((n) => n.slice(0, 64));
  }

  /** The stored merged tree as it is on disk, or undefined when missing or not one for these layers. */
  storedFlatTree(layers: string[]): FlatTree | undefined {
    let text: string;
    try {
      text = fs.readFileSync(this.treeFile(layers), 'utf8');
    } catch {
      return undefined;
    }
    return parseFlat(text, layers);
  }

  /** The merged tree recomputed from the layers' listings. */
  computeFlatTree(layers: string[]): FlatTree {
    return flatten(mergeLayers(layers.map((d) => this.layerTree(d))), layers);
  }

  /**
   * The image's layers merged, flat, in checkout order: read from trees/, or computed and stored
   * there (best effort: a store this process cannot write still checks out).
   */
  flatTree(rec: ImageRecord): FlatTree {
    const stored = this.storedFlatTree(rec.layers);
    if (stored) return stored;
    let t: FlatTree;
    try {
      t = this.computeFlatTree(rec.layers);
    } catch (err) {
      throw refusal(err, rec.name);
    }
    try {
      fs.mkdirSync(path.join(this.dir, 'trees'), { recursive: true });
      const tmp = path.join(this.dir, 'tmp', `tree-${process.pid}-${crypto.randomBytes(6).toString('hex')}`);
      fs.writeFileSync(tmp, JSON.stringify(t), { mode: 0o644 });
      fs.renameSync(tmp, this.treeFile(rec.layers));
    } catch {
      // derived data: the next command tries again
    }
    return t;
  }

  removeTree(id: string): void {
    fs.rmSync(this.treeFileById(id), { force: true });
  }

  /** A file of the image's root filesystem (e.g. "exports/service.template"), or undefined. */
  async readImageFile(rec: ImageRecord, file: string, tree?: MergedTree): Promise<Buffer | undefined> {
    const node = (tree ?? (await this.mergedTree(rec))).lookup(file.replace(/^\/+/, ''));
    if (!node || node.entry.type !== 'f') return undefined;
    if (node.entry.size === 0) return Buffer.alloc(0);
    return fs.readFileSync(this.objectPath(node.entry.object!));
  }

  /** Names of the regular files directly in a directory of the image (e.g. "exports"). */
  async listImageDir(rec: ImageRecord, dir: string, tree?: MergedTree): Promise<string[]> {
    const node = (tree ?? (await this.mergedTree(rec))).lookup(dir.replace(/^\/+|\/+$/g, ''));
    if (!node?.children) return [];
    return [...node.children.entries()].filter(([, n]) => n.entry.type === 'f').map(([name]) => name).sort();
  }
}

/**
 * Layers that merge into something unsafe (a hardlink to a symlink, an entry through a link out of
 * the root) are the image's fault: a clear refusal naming it, at pull and at every checkout.
 */
function refusal(err: unknown, image: string): unknown {
  if (!(err instanceof UnsafePathError)) return err;
  return new SysctrError(`image ${image}: refused: ${err.message}`, { hint: `the image is unsafe; remove it with sysctr images delete ${image}` });
}

function mergeRefusingUnsafe(layers: TreeEntry[][], image: string): MergedTree {
  try {
    return mergeLayers(layers);
  } catch (err) {
    throw refusal(err, image);
  }
}

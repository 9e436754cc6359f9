/**
 * The content-addressed store (docs/design.md, the store):
 *
 *   STORE/lock                      flock(2): shared for a read, exclusive for a write
 *   STORE/tmp/                      temp files; anything here is garbage from a killed command
 *   STORE/objects/ab/cdef…          file objects (see objects.ts)
 *   STORE/layers/<diff-id hex>/     tree.jsonl (the layer's listing) + meta.json, renamed in whole
 *   STORE/blobs/sha256/<hex>        manifests, indexes, configs, by digest
 *   STORE/trees/<chain id hex>.json an image's layers merged (lib/rootfs/merged.ts), derived data
 *   STORE/images.json               reference name -> image record, replaced atomically
 *
 * Write order is objects -> layers -> blobs -> images.json, each by rename, so a killed import
 * leaves only unreferenced content, never a reference to something missing.
 *
 * The store takes its lock itself: `read(view => ...)` and `write(view => ...)` hold it while
 * their function runs and hand out views (views.ts) that stop working when it returns. Nothing
 * outside this folder reaches the files above another way.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SysctrError } from '../errors.js';
import { ensurePrivateDir, isPermissionError } from '../fsutil.js';
import { acquireLock, type HeldLock } from './lock.js';
import { ObjectDir } from './objects.js';
import type { TreeEntry } from './types.js';
import { makeView, Session, type ReadView, type WriteView } from './views.js';

export type { LayerMeta, ReadView, WriteView } from './views.js';

export interface LockOptions {
  /** called when the lock is not granted within half a second */
  onWait?: () => void;
}

export class Store {
  private readonly objects: ObjectDir;
  private depth = 0;
  private mode: 'read' | 'write' = 'read';
  private held?: HeldLock;
  private ready?: Promise<void>;
  private session?: Session;
  /** parsed layer listings, kept across reads and writes of this process */
  private readonly layerCache = new Map<string, TreeEntry[]>();

  private constructor(readonly dir: string) {
    this.objects = new ObjectDir(path.join(dir, 'objects'), path.join(dir, 'tmp'));
  }

  static open(dir: string): Store {
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

  /**
   * Runs fn with the store lock held shared: other reads run beside it, no write (pull, delete,
   * prune, fsck) does, so everything fn finds stays until it returns. A read inside a read or a
   * write of this process joins it.
   */
  read<T>(fn: (view: ReadView) => Promise<T> | T, opts: LockOptions = {}): Promise<T> {
    return this.locked('read', fn, opts);
  }

  /** Runs fn with the store lock held exclusive. A write cannot start inside a read. */
  write<T>(fn: (view: WriteView) => Promise<T> | T, opts: LockOptions = {}): Promise<T> {
    if (this.depth > 0 && this.mode === 'read') {
      return Promise.reject(new Error('store.write called inside store.read: take the write first'));
    }
    return this.locked('write', fn, opts);
  }

  private async locked<T>(mode: 'read' | 'write', fn: (view: WriteView) => Promise<T> | T, opts: LockOptions): Promise<T> {
    // the first caller takes the lock; calls made while it is held (or being taken) join it
    if (this.depth++ === 0) {
      this.mode = mode;
      this.ready = acquireLock(path.join(this.dir, 'lock'), {
        shared: mode === 'read',
        onWait: opts.onWait ?? (() => process.stderr.write(`waiting for the store lock (another sysctr command is ${mode === 'read' ? 'writing' : 'using'} it)...\n`)),
      }).then((held) => {
        this.held = held;
        this.session = new Session(this.dir, this.layerCache, mode === 'write');
        if (mode === 'write') this.cleanTmp();
      });
    }
    try {
      await this.ready;
      return await fn(makeView(this.session!, this.objects));
    } finally {
      if (--this.depth === 0) {
        if (this.session) this.session.open = false;
        this.session = undefined;
        const h = this.held;
        this.held = undefined;
        await h?.release();
      }
    }
  }

  /** Under the exclusive lock nobody else is writing: whatever is in tmp/ was left by a killed command. */
  private cleanTmp(): void {
    const tmp = path.join(this.dir, 'tmp');
    for (const n of fs.readdirSync(tmp)) fs.rmSync(path.join(tmp, n), { recursive: true, force: true });
  }
}

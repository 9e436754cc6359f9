/**
 * File objects: a regular file's content and metadata stored once, named by
 * sha256(header || content) where the header carries mode, uid, gid, size and xattrs, the way
 * OSTree names its file objects. The object file itself has that mode and owner, so a hardlink to
 * it is the file as the image has it. Objects are written once (temp + rename) and never modified.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { setXattrs } from '../fsutil.js';

export interface ObjectMeta {
  /** permission bits incl. setuid/setgid/sticky (07777) */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** name -> base64 value */
  xattrs?: Record<string, string>;
}

export function objectHeader(m: ObjectMeta): string {
  let h = `sysctr-object-v1\nmode ${(m.mode & 0o7777).toString(8)}\nuid ${m.uid}\ngid ${m.gid}\nsize ${m.size}\n`;
  if (m.xattrs) for (const k of Object.keys(m.xattrs).sort()) h += `xattr ${k} ${m.xattrs[k]}\n`;
  return h + '\n';
}

/** Incremental hasher for one object: header first, then the content as it streams. */
export function objectHasher(m: ObjectMeta): crypto.Hash {
  return crypto.createHash('sha256').update(objectHeader(m));
}

/**
 * Creates objects (one per worker thread). Each object is written once to a temp file in tmp/ and
 * renamed into place, so a killed import leaves no partial object in objects/. No fsync: an object
 * is only referenced after the layer listing naming it is renamed in, and a crash before that
 * leaves only garbage in tmp/ (cleaned under the lock) or an unreferenced object (removed by
 * prune); the system calls per object are kept to open, write, futimes, close and rename unless
 * the owner or mode bits need more.
 */
export class ObjectCreator {
  private n = 0;
  private readonly prefix: string;
  private readonly umask = process.umask();
  private readonly uid = process.geteuid?.() ?? -1;
  /** the group a new file gets: the temp dir's own when it is setgid */
  private readonly gid: number;

  /**
   * `dir`: a directory of this creator's own under tmp/ (created here): creating a file locks its
   * directory, and creators sharing one would wait for each other.
   */
  constructor(private readonly objects: ObjectDir, dir: string) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = fs.statSync(dir);
    this.gid = st.mode & 0o2000 ? st.gid : (process.getegid?.() ?? -1);
    this.prefix = path.join(dir, 'o');
  }

  /** A temp file for an object being written, created with its final permission bits when the umask allows. */
  open(m: ObjectMeta): { fd: number; tmp: string } {
    const tmp = this.prefix + (this.n++).toString(36);
    return { fd: fs.openSync(tmp, 'wx', m.mode & 0o777), tmp };
  }

  /** Writes all of `data` at the file's current offset. */
  write(fd: number, data: Uint8Array): void {
    for (let off = 0; off < data.byteLength; ) off += fs.writeSync(fd, data, off, data.byteLength - off);
  }

  /**
   * Gives the temp file its final metadata and renames it into place. Returns false when the
   * object already existed (the temp is removed).
   */
  commit(fd: number, tmp: string, id: string, m: ObjectMeta, mtime: number, checkExists = true): boolean {
    const dest = this.objects.pathOf(id);
    if (checkExists && fs.existsSync(dest)) {
      fs.closeSync(fd);
      fs.unlinkSync(tmp);
      return false;
    }
    try {
      const chown = m.uid !== this.uid || m.gid !== this.gid;
      if (chown) fs.fchownSync(fd, m.uid, m.gid);
      // set-id and sticky bits are not created by open(2), and chown clears set-id bits
      if (chown || (m.mode & 0o7777) !== (m.mode & 0o777 & ~this.umask)) fs.fchmodSync(fd, m.mode & 0o7777);
      // after chown, which clears file capabilities; before the rename, so no object is ever seen without them
      if (m.xattrs) setXattrs(tmp, m.xattrs);
      fs.futimesSync(fd, mtime, mtime);
    } catch (err) {
      fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
      throw err;
    }
    fs.closeSync(fd);
    fs.renameSync(tmp, dest);
    return true;
  }

  /** Writes a whole object from memory. Returns true when it was new. */
  create(id: string, data: Uint8Array, m: ObjectMeta, mtime: number): boolean {
    if (this.objects.has(id)) return false;
    const { fd, tmp } = this.open(m);
    try {
      this.write(fd, data);
    } catch (err) {
      fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
      throw err;
    }
    return this.commit(fd, tmp, id, m, mtime, false);
  }

  /** Removes a temp file that will not become an object. */
  discard(fd: number, tmp: string): void {
    try {
      fs.closeSync(fd);
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }
}

export class ObjectDir {
  /** dir, normalised, with a trailing slash */
  private readonly prefix: string;

  constructor(readonly dir: string, private readonly tmpDir: string) {
    this.prefix = path.join(dir, '/');
  }

  get tmpDirPath(): string {
    return this.tmpDir;
  }

  /** objects/ab/cdef…: by concatenation, as a checkout asks for it tens of thousands of times. */
  pathOf(id: string): string {
    return `${this.prefix}${id.slice(0, 2)}/${id.slice(2)}`;
  }

  has(id: string): boolean {
    return fs.existsSync(this.pathOf(id));
  }

  /** Creates objects/00 … objects/ff once. */
  init(): void {
    if (fs.existsSync(path.join(this.dir, 'ff'))) return;
    for (let i = 0; i < 256; i++) fs.mkdirSync(path.join(this.dir, i.toString(16).padStart(2, '0')), { recursive: true });
  }

  /** Re-hashes an object from disk with the metadata it has on disk: the id it should have. */
  rehash(id: string, xattrs?: Record<string, string>): string {
    const p = this.pathOf(id);
    const st = fs.lstatSync(p);
    if (!st.isFile()) return '';
    const h = objectHasher({ mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: st.size, xattrs });
    const fd = fs.openSync(p, 'r');
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      let n: number;
      while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
    } finally {
      fs.closeSync(fd);
    }
    return h.digest('hex');
  }

  /** Every object id present (for fsck and prune). */
  *list(): Generator<string> {
    for (let i = 0; i < 256; i++) {
      const sub = i.toString(16).padStart(2, '0');
      let names: string[];
      try {
        names = fs.readdirSync(path.join(this.dir, sub));
      } catch {
        continue;
      }
      for (const n of names) if (/^[0-9a-f]{62}$/.test(n)) yield sub + n;
    }
  }
}

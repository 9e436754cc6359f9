/**
 * File objects: a regular file's content and metadata stored once, named by
 * sha256(header || content) where the header carries mode, uid, gid, size and xattrs, the way
 * OSTree names its file objects. The object file itself has that mode and owner, so a hardlink to
 * it is the file as the image has it. Objects are written once (temp + rename) and never modified.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

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

export class ObjectDir {
  constructor(readonly dir: string, private readonly tmpDir: string) {}

  get tmpDirPath(): string {
    return this.tmpDir;
  }

  /** objects/ab/cdef… */
  pathOf(id: string): string {
    return path.join(this.dir, id.slice(0, 2), id.slice(2));
  }

  has(id: string): boolean {
    return fs.existsSync(this.pathOf(id));
  }

  /** Creates objects/00 … objects/ff once. */
  init(): void {
    if (fs.existsSync(path.join(this.dir, 'ff'))) return;
    for (let i = 0; i < 256; i++) fs.mkdirSync(path.join(this.dir, i.toString(16).padStart(2, '0')), { recursive: true });
  }

  /** A temp file for an object being written; committed by `commit`. */
  openTemp(): { fd: number; tmp: string } {
    const tmp = path.join(this.tmpDir, `obj-${process.pid}-${crypto.randomBytes(6).toString('hex')}`);
    return { fd: fs.openSync(tmp, 'wx', 0o600), tmp };
  }

  /**
   * Gives the temp file its final metadata and renames it into place. Returns false when the
   * object already existed (the temp is removed).
   */
  commit(fd: number, tmp: string, id: string, m: ObjectMeta, mtime: number): boolean {
    const dest = this.pathOf(id);
    if (fs.existsSync(dest)) {
      fs.closeSync(fd);
      fs.unlinkSync(tmp);
      return false;
    }
    try {
      fs.fchownSync(fd, m.uid, m.gid);
      fs.fchmodSync(fd, m.mode & 0o7777);
      fs.futimesSync(fd, mtime, mtime);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, dest);
    return true;
  }

  /** Writes a whole small object from memory. Returns true when it was new. */
  writeBuffer(id: string, data: Buffer, m: ObjectMeta, mtime: number): boolean {
    if (this.has(id)) return false;
    const { fd, tmp } = this.openTemp();
    try {
      if (data.length) fs.writeSync(fd, data);
    } catch (err) {
      fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
      throw err;
    }
    return this.commit(fd, tmp, id, m, mtime);
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

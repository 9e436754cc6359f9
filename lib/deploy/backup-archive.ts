/**
 * The backup file (docs/volumes.md): a zstd-compressed tar of `volumes/VOLUME/...` (every data
 * volume, owners, modes, times, symlinks and hardlinks kept) and, last, `sysctr-backup.json`: the
 * container's name, image reference, id and digest, its --set values, and the sha256 and size of
 * every file. Written by sysctr's tar writer through the zstd program; read back by sysctr's tar
 * reader into a staging directory, and refused - staging removed - unless every file is there
 * with its checksum and nothing else is.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SysctrError } from '../errors.js';
import { normalizeEntryPath } from '../layer/safepath.js';
import { TarReader, type TarEntryHeader } from '../layer/tar-reader.js';
import { TarWriter } from '../layer/tar-writer.js';
import { zstdDecompress } from '../layer/zstd.js';

export const BACKUP_MANIFEST = 'sysctr-backup.json';

export interface BackupManifest {
  format: 1;
  name: string;
  image: string;
  imageId: string;
  /** the image's manifest digest and where it was pulled from, to pull it again */
  digest?: string;
  source?: string;
  set: Record<string, string>;
  /** the service was running when the backup was taken */
  wasActive: boolean;
  live: boolean;
  created: string;
  volumes: Array<{ name: string; mount: string }>;
  /** archive path -> sha256 and size, for every regular file */
  files: Record<string, { sha256: string; size: number }>;
}

/** Writes the archive to `file` (a temp name of the caller's); `progress` gets bytes read so far. */
export async function writeBackup(file: string, volumes: Array<{ name: string; hostPath: string }>, manifest: Omit<BackupManifest, 'files'>, progress?: (bytes: number) => void): Promise<BackupManifest> {
  const out = fs.openSync(file, 'w', 0o600);
  const zstd = spawn('zstd', ['-q', '-c', '-3', '-T0', '--check'], { stdio: ['pipe', out, 'pipe'] });
  let stderr = '';
  zstd.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((res, rej) => {
    zstd.once('error', (e) => rej(isEnoent(e) ? new SysctrError('the zstd program is not installed: it compresses backups', { hint: 'apt-get install zstd' }) : e));
    zstd.once('close', (code) => res(code));
  });
  exited.catch(() => undefined);
  const sink = (b: Buffer) => (zstd.stdin!.write(b) ? undefined : new Promise<void>((r) => zstd.stdin!.once('drain', () => r())));
  const tar = new TarWriter(sink);
  const files: BackupManifest['files'] = {};
  let done = 0;
  const links = new Map<string, string>();
  const walk = async (abs: string, rel: string): Promise<void> => {
    const st = fs.lstatSync(abs);
    const base = { name: rel, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) };
    if (st.isDirectory()) {
      await tar.entry({ ...base, type: 'dir' });
      for (const e of fs.readdirSync(abs).sort()) await walk(path.join(abs, e), `${rel}/${e}`);
    } else if (st.isSymbolicLink()) {
      await tar.entry({ ...base, type: 'symlink', linkname: fs.readlinkSync(abs) });
    } else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? links.get(key) : undefined;
      if (first) return tar.entry({ ...base, type: 'hardlink', linkname: first });
      if (st.nlink > 1) links.set(key, rel);
      // read exactly the size the header says, even if a --live service is writing the file
      const fd = fs.openSync(abs, 'r');
      try {
        const size = st.size;
        await tar.entry({ ...base, type: 'file', size });
        const hash = crypto.createHash('sha256');
        const buf = Buffer.alloc(1 << 20);
        let left = size;
        while (left > 0) {
          let n = fs.readSync(fd, buf, 0, Math.min(buf.length, left), null);
          if (n === 0) {
            n = Math.min(buf.length, left); // it shrank meanwhile: zeros keep the archive whole
            buf.fill(0, 0, n);
          }
          const piece = Buffer.from(buf.subarray(0, n));
          hash.update(piece);
          await tar.data(piece);
          left -= n;
          done += n;
          progress?.(done);
        }
        files[rel] = { sha256: hash.digest('hex'), size };
      } finally {
        fs.closeSync(fd);
      }
    } // sockets, fifos and devices are not data to keep
  };
  try {
    for (const v of volumes) await walk(v.hostPath, `volumes/${v.name}`);
    const full: BackupManifest = { ...manifest, files };
    const body = Buffer.from(JSON.stringify(full, null, 2) + '\n');
    await tar.entry({ name: BACKUP_MANIFEST, type: 'file', mode: 0o600, uid: 0, gid: 0, mtime: Math.floor(Date.now() / 1000), size: body.length });
    await tar.data(body);
    await tar.end();
    zstd.stdin!.end();
    const code = await exited;
    if (code !== 0) throw new SysctrError(`zstd failed writing the backup: ${stderr.trim() || `exit status ${code}`}`);
    fs.fsyncSync(out);
    return full;
  } catch (err) {
    zstd.kill('SIGKILL');
    throw err;
  } finally {
    fs.closeSync(out);
  }
}

function isEnoent(e: unknown): boolean {
  return (e as NodeJS.ErrnoException).code === 'ENOENT';
}

/**
 * Reads a backup into `staging` (made here; removed when anything is wrong) and checks it: every
 * file the manifest lists, with its size and sha256, and no other. Returns the manifest.
 */
export async function readBackup(file: string, staging: string): Promise<BackupManifest> {
  const bad = (why: string) => new SysctrError(`backup ${file} is truncated or corrupt: ${why}`, { hint: 'nothing was changed; restore from another copy of the backup' });
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    throw new SysctrError(`cannot read the backup ${file}: ${(err as Error).message}`, { hint: 'name a file written by sysctr backup' });
  }
  const magic = Buffer.alloc(4);
  fs.readSync(fd, magic, 0, 4, 0);
  fs.closeSync(fd);
  if (!magic.equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) throw new SysctrError(`${file} is not a sysctr backup (not zstd-compressed)`, { hint: 'name a file written by sysctr backup' });
  fs.mkdirSync(path.join(staging, 'volumes'), { recursive: true, mode: 0o700 });
  const seen: Record<string, { sha256: string; size: number }> = {};
  let manifestText = '';
  const kinds = new Map<string, 'dir' | 'file' | 'other'>([['volumes', 'dir']]);
  const dirMeta: Array<[string, TarEntryHeader]> = [];
  const onEntry = (h: TarEntryHeader) => {
    const p = normalizeEntryPath(h.name);
    if (p === BACKUP_MANIFEST && h.type === 'file') {
      return { data: (b: Buffer) => void (manifestText += b.toString('utf8')), end: () => undefined };
    }
    const parts = p.split('/');
    if (parts[0] !== 'volumes' || parts.length < 2) throw bad(`unexpected entry ${h.name}`);
    // nothing is written through a symlink or a file the archive made
    for (let i = 1; i < parts.length; i++) if (kinds.get(parts.slice(0, i).join('/')) !== 'dir') throw bad(`${h.name} lies below something that is not a directory`);
    const abs = path.join(staging, p);
    if (kinds.has(p)) throw bad(`${h.name} appears twice`);
    if (h.type === 'dir') {
      kinds.set(p, 'dir');
      fs.mkdirSync(abs, { mode: 0o700 });
      dirMeta.push([abs, h]);
      return undefined;
    }
    if (h.type === 'symlink') {
      kinds.set(p, 'other');
      fs.symlinkSync(h.linkname, abs);
      keepOwner(abs, h, true);
      return undefined;
    }
    if (h.type === 'hardlink') {
      const target = normalizeEntryPath(h.linkname, `hardlink target of "${h.name}"`);
      if (kinds.get(target) !== 'file') throw bad(`${h.name} links to ${h.linkname}, which is not a file before it`);
      kinds.set(p, 'other');
      fs.linkSync(path.join(staging, target), abs);
      return undefined;
    }
    if (h.type !== 'file') throw bad(`${h.name} is a ${h.type}; backups hold files, directories and links`);
    kinds.set(p, 'file');
    const out = fs.openSync(abs, 'w', 0o600);
    const hash = crypto.createHash('sha256');
    let size = 0;
    return {
      data: (b: Buffer) => {
        hash.update(b);
        size += b.length;
        for (let off = 0; off < b.length; ) off += fs.writeSync(out, b, off);
      },
      end: () => {
        fs.closeSync(out);
        seen[p] = { sha256: hash.digest('hex'), size };
        fs.chmodSync(abs, h.mode & 0o7777);
        keepOwner(abs, h, false);
        fs.utimesSync(abs, h.mtime, h.mtime);
      },
    };
  };
  try {
    const reader = new TarReader(onEntry);
    try {
      for await (const chunk of zstdDecompress(fs.createReadStream(file, { highWaterMark: 1 << 20 }))) {
        reader.write(chunk);
        while (reader.pump());
      }
      reader.end();
    } catch (err) {
      if (err instanceof SysctrError) throw err;
      throw bad((err as Error).message);
    }
    if (!manifestText) throw bad(`it has no ${BACKUP_MANIFEST} (it ends early)`);
    let manifest: BackupManifest;
    try {
      manifest = JSON.parse(manifestText) as BackupManifest;
    } catch {
      throw bad(`its ${BACKUP_MANIFEST} is not valid JSON`);
    }
    if (manifest.format !== 1 || typeof manifest.name !== 'string' || !manifest.files) throw bad(`its ${BACKUP_MANIFEST} is not one sysctr wrote (format ${manifest.format})`);
    for (const [p, want] of Object.entries(manifest.files)) {
      const got = seen[p];
      if (!got) throw bad(`${p} is missing`);
      if (got.size !== want.size || got.sha256 !== want.sha256) throw bad(`the checksum of ${p} does not match`);
    }
    const extra = Object.keys(seen).find((p) => !manifest.files[p]);
    if (extra) throw bad(`${extra} is not in its ${BACKUP_MANIFEST}`);
    // directories last: their modes may forbid writing into them
    for (const [abs, h] of dirMeta.reverse()) {
      fs.chmodSync(abs, h.mode & 0o7777);
      keepOwner(abs, h, false);
      fs.utimesSync(abs, h.mtime, h.mtime);
    }
    return manifest;
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw err;
  }
}

function keepOwner(abs: string, h: TarEntryHeader, link: boolean): void {
  if (process.getuid?.() !== 0) return;
  (link ? fs.lchownSync : fs.chownSync)(abs, h.uid, h.gid);
}

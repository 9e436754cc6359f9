/** Small filesystem helpers: atomic writes (temp + rename), digests. */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { SysctrError } from './errors.js';

let counter = 0;
/** A temp name beside `target` (same filesystem, so rename is atomic). */
export function tempPath(target: string): string {
  return path.join(path.dirname(target), `.tmp-${path.basename(target)}-${process.pid}-${Date.now()}-${counter++}`);
}

/**
 * Writes a file atomically: readers see the old content or the new, never a part. The temp file is
 * dot-named beside the target (a listing never shows it) and gets exactly `mode`, whatever the umask.
 * Durable (the default): the data is on disk before the rename makes it the file (fsync), and the
 * rename is on disk before this returns (fsync of the directory), so after a power cut the name
 * holds the old content or the new, never an empty file. `durable: false` for derived data only.
 */
export function writeFileAtomic(target: string, data: string | Buffer, mode = 0o644, opts: { durable?: boolean } = {}): void {
  const durable = opts.durable ?? true;
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = tempPath(target);
  const fd = fs.openSync(tmp, 'wx', mode);
  try {
    fs.writeFileSync(fd, data);
    fs.fchmodSync(fd, mode);
    if (durable) fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  if (durable) fsyncDir(path.dirname(target));
}

/** Makes the directory's entries (a rename, a new link) durable. */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * syncfs(2) of the filesystem holding `dir`: every file written there so far reaches the disk, in
 * one call instead of an fsync per file. Node has no syncfs; coreutils' `sync --file-system` is it.
 */
export function syncFilesystem(dir: string): void {
  const r = spawnSync('sync', ['--file-system', dir], { encoding: 'utf8' });
  if (r.error) throw new SysctrError(`cannot flush ${dir} to disk: ${r.error.message}`, { hint: 'coreutils sync is needed' });
  if (r.status !== 0) throw new SysctrError(`cannot flush ${dir} to disk: ${r.stderr.trim() || `sync exited with ${r.status}`}`);
}

export function sha256(data: string | Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

export function readJson<T>(file: string): T | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return JSON.parse(text) as T;
}

/**
 * Creates `dir` if needed and makes it its owner's alone (0700): what sysctr keeps there (store
 * objects with the image's modes, deployments that hardlink them, values) is nobody else's to
 * read or change. A directory that belongs to another user is refused, never taken over.
 */
export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) throw new SysctrError(`${dir} is not a directory`, { hint: 'move it away, or choose another place with --root DIR' });
  const uid = process.geteuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new SysctrError(`${dir} belongs to uid ${st.uid}, not to uid ${uid}; refused`, {
      hint: uid === 0 ? 'sysctr keeps its state only in a directory of its own: choose another with --root DIR' : 'run as root, or use your own store with --user (or --root DIR)',
    });
  }
  if ((st.mode & 0o777) !== 0o700) fs.chmodSync(dir, 0o700);
}

/** true when dir does not exist or is an empty directory */
export function isAbsentOrEmptyDir(dir: string): boolean {
  try {
    return fs.readdirSync(dir).length === 0;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/** Whether a file system call failed for want of permission (the user's problem, not a bug). */
export function isPermissionError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'EACCES' || code === 'EPERM';
}

/**
 * Extended attributes, through attr's setfattr/getfattr (Node has no xattr calls). Only files that
 * carry attributes in an image come here: a few binaries with file capabilities, typically.
 */
export function setXattrs(file: string, xattrs: Record<string, string>): void {
  for (const [name, b64] of Object.entries(xattrs)) {
    const r = spawnSync('setfattr', ['-n', name, '-v', `0s${b64}`, '--', file], { encoding: 'utf8' });
    if (r.error) throw new SysctrError(`cannot set extended attribute ${name}: ${r.error.message}`, { hint: "install Debian's attr package (setfattr)" });
    if (r.status !== 0) throw new SysctrError(`cannot set extended attribute ${name} on ${file}: ${r.stderr.trim()}`);
  }
}

/** The file's attributes among those `keep` accepts (name -> base64), or undefined if none. */
export function getXattrs(file: string, keep: (name: string) => boolean): Record<string, string> | undefined {
  const r = spawnSync('getfattr', ['--absolute-names', '-d', '-m', '-', '-e', 'base64', '--', file], { encoding: 'utf8' });
  if (r.error) throw new SysctrError(`cannot read extended attributes: ${r.error.message}`, { hint: "install Debian's attr package (getfattr)" });
  if (r.status !== 0) throw new SysctrError(`cannot read extended attributes of ${file}: ${r.stderr.trim()}`);
  let out: Record<string, string> | undefined;
  for (const line of r.stdout.split('\n')) {
    const m = /^([^#=][^=]*)=0s(.*)$/.exec(line);
    if (m && keep(m[1])) (out ??= {})[m[1]] = m[2];
  }
  return out;
}

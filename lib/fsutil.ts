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
 */
export function writeFileAtomic(target: string, data: string | Buffer, mode = 0o644): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = tempPath(target);
  const fd = fs.openSync(tmp, 'wx', mode);
  try {
    fs.writeFileSync(fd, data);
    fs.fchmodSync(fd, mode);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
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

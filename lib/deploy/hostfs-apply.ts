/**
 * Writing host files (hostfs-plan.ts decides what): each one through a temp file beside it, fsync,
 * rename, owned by root (the image's uids mean nothing on the host) with the image's permission
 * bits. A deployment keeps its host files' record in NAME.N/hostfiles.json (0600: paths and
 * sha256s) and its rendered templates in NAME.N/hostfiles.d/; plain files are read from its
 * rootfs/exports/hostfs. Every function here can run again after a crash and end the same way:
 * a file is either the old version or the new one, and both are known.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SysctrError, isErrno } from '../errors.js';
import { sha256, writeFileAtomic } from '../fsutil.js';
import type { Paths } from '../paths.js';
import type { DeployContext } from './context.js';
import { describeWrite } from './dry-run.js';
import { HOSTFS_DIR } from '../hostfs/source.js';
import { NEW_SUFFIX, decide, isForeign, missingParents, type HostEntry, type HostRecord, type HostState, type PlannedHostEntry } from '../hostfs/plan.js';
import { containerPaths, installedNames } from './state.js';

export const RECORD_FILE = 'hostfiles.json';
export const RENDERED_DIR = 'hostfiles.d';

export function readRecord(deployment: string): HostRecord | undefined {
  try {
    const r = JSON.parse(fs.readFileSync(path.join(deployment, RECORD_FILE), 'utf8')) as HostRecord;
    return { files: r.files ?? [], createdDirs: r.createdDirs ?? [] };
  } catch (err) {
    if (isErrno(err, 'ENOENT') || err instanceof SyntaxError) return undefined;
    throw err;
  }
}

export function writeRecord(deployment: string, r: HostRecord): void {
  writeFileAtomic(path.join(deployment, RECORD_FILE), JSON.stringify(r, null, 2) + '\n', 0o600);
}

/** Into a deployment being built: the record, and the rendered templates (the rest is in its rootfs). */
export function writeRecordInto(dir: string, r: HostRecord, planned: PlannedHostEntry[]): void {
  fs.rmSync(path.join(dir, RENDERED_DIR), { recursive: true, force: true });
  for (const p of planned) {
    if (p.template && p.content) writeFileAtomic(path.join(dir, RENDERED_DIR, p.source), p.content, 0o600);
  }
  writeRecord(dir, r);
}

/** The content a deployment installs for an entry, checked against its recorded sha256. */
export function contentOf(deployment: string, rootfs: string, e: HostEntry): Buffer {
  const file = e.template ? path.join(deployment, RENDERED_DIR, e.source) : path.join(rootfs, HOSTFS_DIR, e.source);
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch {
    throw new SysctrError(`${path.basename(deployment)}: ${file} is missing; the host file ${e.path} cannot be written`, { hint: 'uninstall the container and install it again' });
  }
  if (sha256(buf) !== e.sha256) throw new SysctrError(`${path.basename(deployment)}: ${file} does not have the content recorded for ${e.path}`, { hint: 'run sysctr fsck; uninstall and install again' });
  return buf;
}

export function probe(abs: string): HostState {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(abs);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return { kind: 'absent' };
    throw err;
  }
  if (st.isSymbolicLink()) return { kind: 'link', link: fs.readlinkSync(abs) };
  if (st.isDirectory()) return { kind: 'dir' };
  if (st.isFile()) return { kind: 'file', sha256: sha256(fs.readFileSync(abs)) };
  return { kind: 'other' };
}

const asRoot = () => process.geteuid?.() === 0;

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Temp files of a write that a killed sysctr left beside `abs`. */
function removeStaleTemps(abs: string): void {
  const prefix = `.${path.basename(abs)}.sysctr-tmp-`;
  let names: string[];
  try {
    names = fs.readdirSync(path.dirname(abs));
  } catch {
    return;
  }
  for (const n of names) if (n.startsWith(prefix)) fs.rmSync(path.join(path.dirname(abs), n), { force: true });
}

/** temp file + fsync + rename (+ fsync of the directory): the old file or the new one, never a part. */
function writeDurable(abs: string, e: HostEntry, content: Buffer | undefined): void {
  removeStaleTemps(abs);
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.sysctr-tmp-${process.pid}`);
  fs.rmSync(tmp, { force: true });
  if (e.type === 'l') {
    fs.symlinkSync(e.link!, tmp);
    if (asRoot()) fs.lchownSync(tmp, 0, 0);
  } else {
    const fd = fs.openSync(tmp, 'wx', 0o600);
    try {
      fs.writeFileSync(fd, content ?? Buffer.alloc(0));
      if (asRoot()) fs.fchownSync(fd, 0, 0);
      fs.fchmodSync(fd, e.mode);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
  try {
    fs.renameSync(tmp, abs);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fsyncDir(path.dirname(abs));
}

function makeDir(abs: string, mode: number): void {
  try {
    fs.mkdirSync(abs, { mode });
  } catch (err) {
    if (isErrno(err, 'EEXIST')) return;
    throw err;
  }
  if (asRoot()) fs.chownSync(abs, 0, 0);
  fs.chmodSync(abs, mode);
}

export const hostPath = (paths: Pick<Paths, 'hostRoot'>, p: string) => path.join(paths.hostRoot, p);

/** Every host path recorded by any deployment of the container (NAME.0, NAME.1). */
export function recordedPaths(paths: Paths, name: string): Set<string> {
  const c = containerPaths(paths, name);
  const out = new Set<string>();
  for (const n of [0, 1] as const) for (const f of readRecord(c.deployment(n))?.files ?? []) out.add(f.path);
  return out;
}

/**
 * install: a path that exists and is not this container's is refused, naming it (--force takes it
 * over; a path another container installed is refused even then). Returns the paths taken over.
 */
export function checkForeign(paths: Paths, name: string, planned: PlannedHostEntry[], force: boolean): Set<string> {
  const mine = recordedPaths(paths, name);
  const others = new Map<string, string>();
  for (const other of installedNames(paths.root)) {
    if (other === name) continue;
    for (const p of recordedPaths(paths, other)) others.set(p, other);
  }
  const taken = new Set<string>();
  const foreign: string[] = [];
  for (const p of planned) {
    const owner = others.get(p.path);
    if (owner && p.type !== 'd') {
      throw new SysctrError(`${hostPath(paths, p.path)} is a host file of the container ${owner}`, { hint: `two containers cannot install the same host file: uninstall ${owner}, or change the path with --set (renameFiles)` });
    }
    const state = probe(hostPath(paths, p.path));
    if (!isForeign(p, state, mine)) continue;
    if (state.kind === 'dir' && p.type !== 'd') throw new SysctrError(`${hostPath(paths, p.path)} is a directory; hostfs${p.source} cannot be installed there`, { hint: 'remove or move that directory first' });
    if (force) taken.add(p.path);
    else foreign.push(hostPath(paths, p.path));
  }
  assertWritable(paths, planned);
  if (foreign.length) {
    throw new SysctrError(`${foreign[0]} already exists and was not installed by sysctr${foreign.length > 1 ? ` (and ${foreign.length - 1} more: ${foreign.slice(1).join(', ')})` : ''}`, {
      hint: `move it away, or install with --force to replace it (it then belongs to ${name} and is removed by its uninstall)`,
    });
  }
  return taken;
}

/**
 * Before anything is written: the directory each host file goes into (or the nearest one that
 * exists) must be writable, so that a read-only /usr or a user without rights fails here, not
 * half-way through the install.
 */
function assertWritable(paths: Paths, planned: PlannedHostEntry[]): void {
  const checked = new Set<string>();
  for (const p of planned) {
    let dir = path.dirname(hostPath(paths, p.path));
    while (!fs.existsSync(dir) && dir !== path.dirname(dir)) dir = path.dirname(dir);
    if (checked.has(dir)) continue;
    checked.add(dir);
    try {
      fs.accessSync(dir, fs.constants.W_OK);
    } catch (err) {
      throw new SysctrError(`cannot install the host file ${hostPath(paths, p.path)}: ${dir} is not writable (${(err as NodeJS.ErrnoException).code})`, {
        hint: 'change the path with --set (see the renameFiles paths in sysctr images info), or make it writable',
      });
    }
  }
}

export interface ApplyInput {
  /** the host files after this step (the deployment switched to); [] at uninstall */
  to: HostEntry[];
  /** the host files before (the deployment switched from); [] at install */
  from: HostEntry[];
  /** the content of a `to` file */
  load: (e: HostEntry) => Buffer;
  /** the deployment whose record gets the directories created (before they are) */
  recordDir?: string;
  /** install --force: paths to take over */
  force?: ReadonlySet<string>;
}

/**
 * Makes the host have `to` where it had `from`: removed first (what `to` no longer has), then
 * directories, then files. Changed files are kept, with a warning. Under --dry-run, says what it
 * would do. Returns the warnings.
 */
export function applyHostFiles(ctx: DeployContext, input: ApplyInput): string[] {
  const { paths, out } = ctx;
  const dry = ctx.dryRun;
  const warnings: string[] = [];
  const warn = (w: string) => {
    warnings.push(w);
    out(`warning: ${w}`);
  };
  const toBy = new Map(input.to.map((e) => [e.path, e]));
  const fromBy = new Map(input.from.map((e) => [e.path, e]));
  const known = (p: string) => [fromBy.get(p), toBy.get(p)].filter((e): e is HostEntry => e !== undefined);
  // removals (deepest first), for what the new deployment no longer has
  for (const e of [...input.from].reverse()) {
    if (toBy.has(e.path)) continue;
    const abs = hostPath(paths, e.path);
    const action = decide(undefined, known(e.path), probe(abs));
    if (action === 'remove') {
      if (dry) out(`would remove ${abs}`);
      else {
        fs.rmSync(abs, { force: true });
        removeStaleTemps(abs);
      }
    } else if (action === 'keep-changed') warn(`${abs} was changed since sysctr wrote it: kept (the new deployment no longer has it)`);
  }
  const plans = input.to.map((e) => {
    const abs = hostPath(paths, e.path);
    return { e, abs, action: decide(e, known(e.path), probe(abs), input.force?.has(e.path)) };
  });
  // directories: recorded first, then made, so that uninstall finds every one sysctr made
  const dirs = missingParents(
    plans.filter((p) => p.action === 'write' || p.action === 'write-new').map((p) => p.e.path),
    (d) => probe(hostPath(paths, d)).kind !== 'absent',
  );
  const dirEntries = plans.filter((p) => p.e.type === 'd' && p.action === 'write').map((p) => p.e.path);
  const created = [...dirs, ...dirEntries.filter((d) => !dirs.includes(d))];
  if (!dry && created.length && input.recordDir) {
    const r = readRecord(input.recordDir) ?? { files: input.to, createdDirs: [] };
    const missing = created.filter((d) => !r.createdDirs.includes(d));
    if (missing.length) writeRecord(input.recordDir, { ...r, createdDirs: [...r.createdDirs, ...missing].sort() });
  }
  for (const d of dirs) {
    if (dry) out(`would create directory ${hostPath(paths, d)}`);
    else hostWrite(hostPath(paths, d), () => makeDir(hostPath(paths, d), 0o755));
  }
  for (const { e, abs, action } of plans) {
    if (action === 'none') continue;
    if (e.type === 'd') {
      if (action === 'keep-changed') warn(`${abs} is not a directory: left as it is (hostfs${e.source} is an empty directory)`);
      else if (dry) out(`would create directory ${abs}`);
      else makeDir(abs, e.mode);
      continue;
    }
    const dest = action === 'write-new' ? abs + NEW_SUFFIX : abs;
    if (action === 'write-new' && dry) out(`would keep ${abs} (changed since sysctr wrote it) and put the new version in ${dest}`);
    else if (action === 'write-new') warn(`${abs} was changed since sysctr wrote it: kept; the new version is in ${dest}`);
    if (input.force?.has(e.path) && action === 'write') out(`${dry ? 'would take' : 'taking'} over ${abs} (--force)`);
    const content = e.type === 'f' ? input.load(e) : undefined;
    if (dry) describeHostWrite(out, dest, e, content);
    else hostWrite(dest, () => writeDurable(dest, e, content));
  }
  return warnings;
}

/** A host file that cannot be written is the user's problem (permissions, a read-only /usr), not a bug. */
function hostWrite(dest: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!code || !['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'ENOTDIR', 'EISDIR'].includes(code)) throw err;
    throw new SysctrError(`cannot write the host file ${dest}: ${(err as Error).message}`, {
      hint: 'change the path with --set (see renameFiles in sysctr images info), or make it writable; the next sysctr command for this container finishes or undoes this one',
    });
  }
}

function describeHostWrite(out: (l: string) => void, dest: string, e: HostEntry, content: Buffer | undefined): void {
  const mode = `mode ${e.mode.toString(8).padStart(4, '0')}, from hostfs${e.source}${e.template ? ', rendered' : ''}`;
  if (e.type === 'l') {
    out(`would link ${dest} -> ${e.link} (from hostfs${e.source})`);
    return;
  }
  const text = content!.toString('utf8');
  if (content!.includes(0) || Buffer.from(text).compare(content!) !== 0) {
    out(`would write ${dest} (${mode}; ${content!.length} bytes, not text, sha256 ${e.sha256})`);
    return;
  }
  out(`host file ${dest} (${mode}):`);
  describeWrite(out, dest, text);
}

/**
 * uninstall: every host file of the container's deployments that is still as sysctr wrote it
 * (and a FILE.sysctr-new sysctr wrote), then the directories sysctr created, when empty.
 */
export function removeHostFiles(ctx: DeployContext, records: HostRecord[]): void {
  const { paths, out } = ctx;
  const versions = new Map<string, HostEntry[]>();
  for (const r of records) for (const f of r.files) versions.set(f.path, [...(versions.get(f.path) ?? []), f]);
  const paths_ = [...versions.keys()].sort().reverse();
  for (const p of paths_) {
    const known = versions.get(p)!;
    for (const abs of [hostPath(paths, p), hostPath(paths, p) + NEW_SUFFIX]) {
      const state = probe(abs);
      const action = decide(undefined, known, state);
      if (action === 'remove') {
        out(`${ctx.dryRun ? 'would remove' : 'removing'} ${abs}`);
        if (!ctx.dryRun) {
          fs.rmSync(abs, { force: true });
          removeStaleTemps(abs);
        }
      } else if (action === 'keep-changed' && !abs.endsWith(NEW_SUFFIX)) out(`keeping ${abs}: it was changed since sysctr wrote it`);
    }
  }
  const dirs = [...new Set(records.flatMap((r) => r.createdDirs))].sort((a, b) => b.split('/').length - a.split('/').length || (a < b ? 1 : -1));
  for (const d of dirs) {
    const abs = hostPath(paths, d);
    if (ctx.dryRun) {
      if (fs.existsSync(abs)) out(`would remove the directory ${abs} if it is empty then`);
      continue;
    }
    try {
      fs.rmdirSync(abs);
      out(`removing the directory ${abs}`);
    } catch (err) {
      if (isErrno(err, 'ENOTEMPTY') || isErrno(err, 'EEXIST')) out(`keeping the directory ${abs}: it is not empty`);
      else if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ENOTDIR')) throw err;
    }
  }
}

/**
 * Host files (an image's /exports/hostfs, as `atomic install --system` installed them): which
 * file goes where on the host, with what content, and what to do with what is there now. Pure
 * logic, no file system: hostfs-apply.ts reads and writes.
 *
 * - every file under /exports/hostfs/ goes to the same path on the host; an empty directory there
 *   is created on the host;
 * - manifest.json `renameFiles` maps a hostfs path (or a directory prefix of it) to another host
 *   path, a template rendered with the deployment's values;
 * - `installedFilesTemplate` names files (by their hostfs path or their host path) whose content
 *   is a template, rendered with the same engine and values as the other templates;
 * - a file sysctr wrote and nobody changed since (its sha256 is one sysctr recorded) is sysctr's
 *   to replace or remove; a changed one is kept, and a new version goes beside it as FILE.sysctr-new.
 */
import path from 'node:path';
import { SysctrError } from '../errors.js';
import { sha256 } from '../fsutil.js';
import { invalidError, parseTemplate, positionAt, renderTokens, undefinedError, undefinedVariables } from '../template/engine.js';
import { locatePointer, parseJsonWithLocations } from '../template/json-locate.js';

export type HostEntryType = 'f' | 'l' | 'd';

/** One entry of an image's /exports/hostfs, as the image has it. */
export interface HostfsSourceEntry {
  /** its path below hostfs, absolute: /etc/etcd/etcd.conf */
  source: string;
  type: HostEntryType;
  mode: number;
  /** f: the bytes */
  content?: Buffer;
  /** l: the link target as written */
  link?: string;
}

/** One host file a deployment installs (recorded in the deployment's hostfiles.json). */
export interface HostEntry {
  /** where on the host (below the host root), absolute and normalised */
  path: string;
  /** where it comes from, below /exports/hostfs */
  source: string;
  type: HostEntryType;
  /** permission bits only: setuid, setgid and sticky bits are dropped */
  mode: number;
  /** f: sha256 of the content written */
  sha256?: string;
  /** l: the link target */
  link?: string;
  /** f: the content is a rendered template (installedFilesTemplate) */
  template?: boolean;
}

export interface PlannedHostEntry extends HostEntry {
  /** f: the content to write */
  content?: Buffer;
}

/** A deployment's host files and the directories sysctr created on the host for them. */
export interface HostRecord {
  files: HostEntry[];
  /** host directories sysctr made (removed at uninstall when empty) */
  createdDirs: string[];
}

export const NEW_SUFFIX = '.sysctr-new';

/** What the host has at a path now. */
export type HostState =
  | { kind: 'absent' }
  | { kind: 'file'; sha256: string }
  | { kind: 'link'; link: string }
  | { kind: 'dir' }
  | { kind: 'other' };

/**
 * A host path through renameFiles, component by component as Atomic did: each prefix of the path
 * (/etc, /etc/etcd, /etc/etcd/etcd.conf) is looked up, so renaming a directory moves what is in it.
 */
export function renamePath(source: string, renames: ReadonlyMap<string, string>): string {
  let cur = '';
  for (const part of source.split('/').slice(1)) {
    cur = `${cur}/${part}`;
    cur = renames.get(cur) ?? cur;
  }
  return cur || '/';
}

/** Why a rendered host path cannot be used, or undefined when it can. */
export function badHostPath(p: string, o: { hostRoot: string; stateRoot: string }): string | undefined {
  if (!p.startsWith('/')) return 'it is not an absolute path';
  if (p.includes('\0')) return 'it contains a NUL byte';
  if (p.split('/').includes('..')) return 'it contains ".."';
  if (path.posix.normalize(p) !== p || (p.length > 1 && p.endsWith('/'))) return `it is not normalised (${path.posix.normalize(p).replace(/(.)\/$/, '$1')})`;
  if (p === '/') return 'it is the root directory';
  const abs = path.join(o.hostRoot, p);
  if (abs === o.stateRoot || abs.startsWith(o.stateRoot + '/')) return `it is inside sysctr's state root ${o.stateRoot}`;
  return undefined;
}

/** renameFiles with each new path rendered; errors name manifest.json:line:col. */
export function renderRenames(manifestText: string | undefined, renameFiles: Record<string, string> | undefined, values: Record<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  if (!renameFiles) return out;
  const doc = manifestText !== undefined ? parseJsonWithLocations(manifestText) : undefined;
  for (const [from, tmpl] of Object.entries(renameFiles)) {
    // where the string is in manifest.json; a token's column is counted inside it (no escapes)
    const start = doc ? positionAt(manifestText!, locatePointer(doc, `/renameFiles/${from.replace(/~/g, '~0').replace(/\//g, '~1')}`, 'value')) : { line: 1, col: 1 };
    const parsed = parseTemplate(tmpl);
    const shift = <T extends { line: number; col: number }>(x: T): T => ({ ...x, line: start.line + x.line - 1, col: x.line === 1 ? start.col + x.col : x.col });
    if (parsed.invalid.length) throw invalidError('manifest.json', parsed.invalid.map(shift));
    const missing = undefinedVariables('manifest.json', parsed, values).map(shift);
    if (missing.length) throw undefinedError(missing);
    out.set(from.replace(/(.)\/+$/, '$1'), renderTokens('manifest.json', parsed, values).text);
  }
  return out;
}

export interface PlanInput {
  entries: HostfsSourceEntry[];
  manifest: { renameFiles?: Record<string, string>; installedFilesTemplate?: string[] };
  manifestText?: string;
  values: Record<string, string>;
  hostRoot: string;
  stateRoot: string;
}

/** Every host file of a deployment, rendered and checked; throws SysctrError on any problem. */
export function planHostFiles(input: PlanInput): PlannedHostEntry[] {
  const renames = renderRenames(input.manifestText, input.manifest.renameFiles, input.values);
  const templates = new Set(input.manifest.installedFilesTemplate ?? []);
  const out: PlannedHostEntry[] = [];
  const byPath = new Map<string, PlannedHostEntry>();
  for (const e of [...input.entries].sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0))) {
    const target = renamePath(e.source, renames);
    const bad = badHostPath(target, input);
    if (bad) {
      throw new SysctrError(`hostfs${e.source}: its host path ${JSON.stringify(target)} cannot be used: ${bad}`, {
        hint: 'fix renameFiles in manifest.json (or the --set value used in it): a host path must be absolute, with no ".." and outside the state root',
      });
    }
    const twin = byPath.get(target);
    if (twin) throw new SysctrError(`hostfs${twin.source} and hostfs${e.source} would both be installed as ${target}`, { hint: 'fix renameFiles in manifest.json' });
    const p: PlannedHostEntry = { path: target, source: e.source, type: e.type, mode: e.mode & 0o777 };
    if (e.type === 'l') p.link = e.link ?? '';
    if (e.type === 'f') {
      let content = e.content ?? Buffer.alloc(0);
      if (templates.has(e.source) || templates.has(target)) {
        const file = `hostfs${e.source}`;
        const parsed = parseTemplate(content.toString('utf8'));
        content = Buffer.from(renderTokens(file, parsed, input.values).text); // throws file:line:col
        p.template = true;
      }
      p.content = content;
      p.sha256 = sha256(content);
    }
    byPath.set(target, p);
    out.push(p);
  }
  // a file cannot also be a directory that another file goes into
  for (const p of out) {
    for (let d = path.posix.dirname(p.path); d !== '/'; d = path.posix.dirname(d)) {
      const up = byPath.get(d);
      if (up && up.type !== 'd') throw new SysctrError(`hostfs${p.source} would be installed as ${p.path}, inside ${d}, which hostfs${up.source} is installed as`, { hint: 'fix renameFiles in manifest.json' });
    }
  }
  return out;
}

/** The record kept in the deployment (no content). */
export function recordOf(planned: PlannedHostEntry[], createdDirs: string[] = []): HostRecord {
  return { files: planned.map(({ content: _content, ...e }) => e), createdDirs: [...new Set(createdDirs)].sort() };
}

/** The host has exactly what sysctr recorded for this entry. */
export function matches(e: HostEntry, s: HostState): boolean {
  if (e.type === 'f') return s.kind === 'file' && s.sha256 === e.sha256;
  if (e.type === 'l') return s.kind === 'link' && s.link === e.link;
  return s.kind === 'dir';
}

/**
 * - none: nothing to do (already so, or nothing there to remove)
 * - write: write `to` (absent, or sysctr's unchanged version, or taken over with --force)
 * - write-new: the file was changed since sysctr wrote it: keep it, write `to` as FILE.sysctr-new
 * - remove: sysctr's unchanged version of a file the new deployment no longer has
 * - keep-changed: a changed file the new deployment no longer has (or not a directory where one goes): kept
 */
export type HostAction = 'none' | 'write' | 'write-new' | 'remove' | 'keep-changed';

/**
 * What to do at one host path. `known`: every version of this path that sysctr recorded for the
 * container (the deployment switched from, and the one switched to): a file that has one of them
 * is unchanged since sysctr wrote it.
 */
export function decide(to: HostEntry | undefined, known: HostEntry[], current: HostState, force = false): HostAction {
  if (to?.type === 'd') return current.kind === 'dir' ? 'none' : current.kind === 'absent' ? 'write' : 'keep-changed';
  if (to) {
    if (matches(to, current)) return 'none';
    if (current.kind === 'absent') return 'write';
    if (current.kind !== 'dir' && (force || known.some((k) => matches(k, current)))) return 'write';
    return 'write-new';
  }
  if (current.kind === 'absent') return 'none';
  const mine = known.filter((k) => k.type !== 'd');
  if (mine.length === 0) return 'none'; // directories go with createdDirs
  return mine.some((k) => matches(k, current)) ? 'remove' : 'keep-changed';
}

/**
 * Install's check: a path that exists and that no deployment of this container recorded is
 * someone else's file. Directories are shared (a hostfs directory that exists is fine).
 */
export function isForeign(to: HostEntry, current: HostState, recordedPaths: ReadonlySet<string>): boolean {
  if (current.kind === 'absent' || recordedPaths.has(to.path)) return false;
  if (to.type === 'd') return current.kind !== 'dir';
  return true;
}

/** Directories to create (shallowest first) so that every path in `paths` has its parent. */
export function missingParents(paths: string[], exists: (dir: string) => boolean): string[] {
  const need = new Set<string>();
  for (const p of paths) {
    const chain: string[] = [];
    for (let d = path.posix.dirname(p); d !== '/' && !need.has(d) && !exists(d); d = path.posix.dirname(d)) chain.push(d);
    for (const d of chain) need.add(d);
  }
  return [...need].sort((a, b) => a.split('/').length - b.split('/').length || (a < b ? -1 : 1));
}

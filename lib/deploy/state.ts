/**
 * A container's state on disk: ROOT/NAME -> NAME.0|NAME.1 (the live deployment), each deployment's
 * `info`, and the journal ROOT/.NAME.journal that marks an operation in progress.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isErrno } from '../errors.js';
import type { Paths } from '../paths.js';
import { acquireLock } from '../store/lock.js';
import { writeAtomic } from '../systemd/files.js';
import type { HealthCheck } from '../runtime/healthcheck.js';

/** ROOT/NAME.N/info */
export interface DeploymentInfo {
  name: string;
  /** image reference as stored, e.g. localhost/web:1 */
  image: string;
  imageId: string;
  /** every variable's final value */
  values: Record<string, string>;
  /** the --set values, as given */
  set: Record<string, string>;
  runtime: string;
  created: string;
  detached: boolean;
  user: boolean;
  /** --rootfs DIR when the deployment runs an existing rootfs instead of a checkout */
  rootfs?: string;
  unitPath: string;
  tmpfilesPath?: string;
  /** manifest.json noContainerService: host files and tmpfiles only, no unit */
  noContainerService?: boolean;
  /** 'apply': installed by sysctr apply, which may uninstall it again (--prune); absent: by hand */
  managedBy?: 'apply';
  /** install --auto-update: what sysctr auto-update follows (absent: disabled; docs/auto-update.md) */
  autoUpdate?: 'registry' | 'local' | 'disabled';
  /** the image manifest's digest (what auto-update compares a tag with; absent in older infos) */
  manifestDigest?: string;
  /** the check `sysctr healthcheck` and the update gate run (docs/health.md) */
  healthcheck?: HealthCheck;
}

export interface Journal {
  op: string;
  started: string;
  pid: number;
  [k: string]: unknown;
}

export interface ContainerPaths {
  link: string;
  deployment: (n: 0 | 1) => string;
  journal: string;
}

export function containerPaths(paths: Pick<Paths, 'root'>, name: string): ContainerPaths {
  return {
    link: path.join(paths.root, name),
    deployment: (n) => path.join(paths.root, `${name}.${n}`),
    journal: path.join(paths.root, `.${name}.journal`),
  };
}

/** The live deployment dir (the symlink's target), or undefined when there is no link. */
export function liveDeployment(c: ContainerPaths): string | undefined {
  try {
    return path.resolve(path.dirname(c.link), fs.readlinkSync(c.link));
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'EINVAL')) return undefined;
    throw err;
  }
}

/**
 * Whether the state root is there. One that cannot be looked at (another user's, behind a home
 * directory of mode 0700) is a permission error, not "nothing is installed".
 */
export function stateRootExists(root: string): boolean {
  try {
    fs.statSync(root);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return false;
    throw err;
  }
}

export function readInfo(deployment: string): DeploymentInfo | undefined {
  return readDeploymentJson<DeploymentInfo>(deployment, 'info');
}

/** A JSON file a deployment keeps (info, health): undefined when it is missing or cut short. */
export function readDeploymentJson<T>(deployment: string, file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(deployment, file), 'utf8')) as T;
  } catch (err) {
    if (isErrno(err, 'ENOENT') || err instanceof SyntaxError) return undefined;
    throw err;
  }
}

/**
 * The op of a journal that exists but cannot be read (cut short by a crash or a power cut, or
 * damaged): an operation was under way, which one is lost. recover.ts repairs from the live link.
 */
export const DAMAGED_JOURNAL = 'damaged-journal';

export function readJournal(c: ContainerPaths): Journal | undefined {
  let text: string;
  try {
    text = fs.readFileSync(c.journal, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
  try {
    const j = JSON.parse(text) as Journal;
    if (j && typeof j === 'object' && typeof j.op === 'string') return j;
  } catch {
    /* below */
  }
  return { op: DAMAGED_JOURNAL, started: '', pid: 0 };
}

export function writeJournal(c: ContainerPaths, j: Omit<Journal, 'started' | 'pid'>): void {
  writeAtomic(c.journal, JSON.stringify({ ...j, started: new Date().toISOString(), pid: process.pid }) + '\n', 0o600);
}

/** The names with a deployment link in the state root (installed containers). */
export function installedNames(root: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(root, { withFileTypes: true });
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
  return entries.filter((e) => e.isSymbolicLink() && !e.name.startsWith('.')).map((e) => e.name).sort();
}

/**
 * Runs fn holding ROOT/.containers.lock, so two commands never change deployments at once (one
 * lock for all names: a per-name lock file would have to outlive uninstall). A flock(2) on a
 * descriptor this process holds (lib/store/lock.ts): a killed sysctr releases it.
 */
export async function withContainersLock<T>(root: string, out: (l: string) => void, fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(root, { recursive: true });
  const lock = await acquireLock(path.join(root, '.containers.lock'), { onWait: () => out('waiting for another sysctr command to finish...') });
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/**
 * The tmpfiles confs this container's deployments were rendered with (their copies beside info):
 * a conf in the tmpfiles dir equal to one of them is sysctr's, any other is someone else's.
 */
export function tmpfilesCopies(c: ContainerPaths, name: string): string[] {
  const out: string[] = [];
  for (const n of [0, 1] as const) {
    try {
      out.push(fs.readFileSync(path.join(c.deployment(n), `${name}.conf`), 'utf8'));
    } catch {
      /* no such deployment, or no conf */
    }
  }
  return out;
}

/**
 * Snapshots of data volumes (docs/volumes.md). `containers update` takes one of every data volume
 * with the service stopped, before it switches (step `snapshot`); when the new version does not
 * start, the automatic revert puts it back before the old version starts again (step
 * `restore-data`), and `containers rollback --with-data` does the same on request. One snapshot
 * per container is kept: ROOT/volumes/CONTAINER/.snapshot/{meta.json,VOLUME/}, named by the
 * update's token, so a step run again after a crash knows whether its work is done.
 *
 * Both are crash-safe: the snapshot is made in a temp dir and renamed into place; a volume is
 * restored into a temp dir beside it and swapped in with renames (copy-tree.ts swapDir).
 */
import fs from 'node:fs';
import path from 'node:path';
import { SysctrError } from '../errors.js';
import { syncFilesystem } from '../fsutil.js';
import type { DeployContext } from './context.js';
import { copyTree, removeLeftovers, swapDir } from './copy-tree.js';
import { containerPaths, readInfo, writeJournal } from './state.js';
import { humanSize, treeSize, volumesRoot, type Volume } from './volumes.js';

export interface SnapshotMeta {
  /** the update's token (switch.ts SwitchJournal.token) */
  token: string;
  taken: string;
  /** the slots of the update it was taken for */
  from: 0 | 1;
  to: 0 | 1;
  volumes: Array<{ name: string; files: number; bytes: number; reflinked: number }>;
}

/** The part of a switch journal snapshots look at. */
export interface DataJournal {
  op: string;
  from: 0 | 1;
  to: 0 | 1;
  token?: string;
  /** update --no-snapshot VOLUME... */
  noSnapshot?: string[];
  /** update-revert, rollback --with-data: the token of the snapshot to put back */
  restoreData?: string;
  /** restore-data done (a step run again after a crash must not restore twice) */
  dataRestored?: boolean;
}

export function snapshotDir(stateRoot: string, container: string): string {
  return path.join(volumesRoot(stateRoot, container), '.snapshot');
}

export function readSnapshot(stateRoot: string, container: string): SnapshotMeta | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(snapshotDir(stateRoot, container), 'meta.json'), 'utf8')) as SnapshotMeta;
  } catch {
    return undefined;
  }
}

/** The volumes recorded in a deployment's info (install and update write them). */
export function deploymentVolumes(deployment: string): Volume[] {
  return ((readInfo(deployment) as { volumes?: Volume[] } | undefined)?.volumes ?? []).filter(Boolean);
}

/** The data volumes an update of this deployment snapshots. */
export function volumesToSnapshot(deployment: string, noSnapshot: string[] = []): Volume[] {
  return deploymentVolumes(deployment).filter((v) => v.type === 'data' && v.snapshot && !noSnapshot.includes(v.name) && fs.existsSync(v.hostPath));
}

/** update --dry-run: what would be snapshotted, and its size. */
export function describeSnapshot(out: (l: string) => void, deployment: string, noSnapshot: string[] = []): void {
  for (const v of deploymentVolumes(deployment).filter((x) => x.type === 'data')) {
    if (!v.snapshot || noSnapshot.includes(v.name)) out(`would not snapshot volume ${v.name} (${v.hostPath}): ${v.snapshot ? '--no-snapshot' : 'the manifest opts it out'}`);
    else out(`would snapshot volume ${v.name} (${v.hostPath}, ${humanSize(treeSize(v.hostPath))}) before switching`);
  }
}

/** Step `snapshot` of an update: the live deployment's data volumes, with the service stopped. */
export function snapshotForSwitch(ctx: DeployContext, name: string, j: DataJournal): void {
  const c = containerPaths(ctx.paths, name);
  if (ctx.dryRun) return describeSnapshot(ctx.out, c.deployment(j.from), j.noSnapshot);
  const volumes = volumesToSnapshot(c.deployment(j.from), j.noSnapshot);
  if (!volumes.length || !j.token) return;
  if (readSnapshot(ctx.paths.root, name)?.token === j.token) return; // taken before a crash
  takeSnapshot(ctx.paths.root, name, volumes, { token: j.token, from: j.from, to: j.to });
}

export function takeSnapshot(stateRoot: string, name: string, volumes: Volume[], o: { token: string; from: 0 | 1; to: 0 | 1 }): SnapshotMeta {
  const vroot = volumesRoot(stateRoot, name);
  removeLeftovers(vroot, '.snapshot.');
  const partial = path.join(vroot, `.snapshot.partial-${process.pid}`);
  fs.mkdirSync(partial, { mode: 0o700 });
  const meta: SnapshotMeta = { token: o.token, taken: new Date().toISOString(), from: o.from, to: o.to, volumes: [] };
  for (const v of volumes) {
    const s = copyTree(v.hostPath, path.join(partial, v.name));
    meta.volumes.push({ name: v.name, files: s.files, bytes: s.bytes, reflinked: s.reflinked });
  }
  fs.writeFileSync(path.join(partial, 'meta.json'), JSON.stringify(meta, null, 2) + '\n', { mode: 0o600 });
  syncFilesystem(vroot); // the copies are on disk before they are the snapshot
  swapDir(partial, snapshotDir(stateRoot, name));
  return meta;
}

/**
 * Step `restore-data` of an update's revert and of rollback --with-data: each volume of the
 * snapshot named by the journal is replaced by its snapshot copy, before the old version starts.
 */
export function restoreForSwitch(ctx: DeployContext, name: string, j: DataJournal): void {
  if (!j.restoreData || j.dataRestored) return;
  const meta = readSnapshot(ctx.paths.root, name);
  if (meta?.token !== j.restoreData) return; // nothing was snapshotted for that update
  if (ctx.dryRun) {
    for (const v of meta.volumes) ctx.out(`would restore volume ${v.name} from the snapshot taken ${meta.taken} (${humanSize(v.bytes)})`);
    return;
  }
  restoreSnapshot(ctx.paths.root, name, meta);
  const done = { ...j, dataRestored: true };
  writeJournal(containerPaths(ctx.paths, name), done);
  j.dataRestored = true;
  ctx.out(`${name}: restored ${meta.volumes.map((v) => v.name).join(', ')} from the snapshot taken ${meta.taken}`);
}

export function restoreSnapshot(stateRoot: string, name: string, meta: SnapshotMeta): void {
  const vroot = volumesRoot(stateRoot, name);
  const snap = snapshotDir(stateRoot, name);
  for (const v of meta.volumes) {
    const from = path.join(snap, v.name);
    if (!fs.existsSync(from)) throw new SysctrError(`${name}: the snapshot ${snap} has no copy of volume ${v.name}`, { hint: `the snapshot is damaged; the volume ${path.join(vroot, v.name)} was left as it is` });
    removeLeftovers(vroot, `.${v.name}.`);
    const fresh = path.join(vroot, `.${v.name}.restore-${process.pid}`);
    copyTree(from, fresh);
    syncFilesystem(vroot);
    swapDir(fresh, path.join(vroot, v.name));
  }
}

/** rollback --with-data: the snapshot of the update that made the live deployment, or an error saying why there is none. */
export function snapshotForRollback(stateRoot: string, name: string, live: string, liveSlot: 0 | 1): SnapshotMeta {
  const meta = readSnapshot(stateRoot, name);
  const token = (readInfo(live) as { token?: string } | undefined)?.token;
  if (!meta) throw new SysctrError(`${name}: there is no snapshot of its data volumes to restore`, { hint: `roll back without --with-data to keep today's data: sysctr containers rollback ${name}` });
  if (meta.to !== liveSlot || !token || meta.token !== token) {
    throw new SysctrError(`${name}: the snapshot of its data (taken ${meta.taken}) is not from the update that made ${path.basename(live)} live`, {
      hint: `roll back without --with-data to keep today's data: sysctr containers rollback ${name}`,
    });
  }
  return meta;
}

/** "3 hours" */
export function age(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 120) return `${s} seconds`;
  if (s < 7200) return `${Math.round(s / 60)} minutes`;
  if (s < 172800) return `${Math.round(s / 3600)} hours`;
  return `${Math.round(s / 86400)} days`;
}

/** Writes a deployment's info with its volumes (install, update). */
export function infoWithVolumes<T extends object>(info: T, volumes: Volume[]): T & { volumes?: Volume[] } {
  return volumes.length ? { ...info, volumes } : info;
}

/** update --no-snapshot NAME: each must be a data volume of the live deployment. */
export function assertNoSnapshotNames(name: string, live: string, names: string[] = []): void {
  const data = deploymentVolumes(live).filter((v) => v.type === 'data').map((v) => v.name);
  for (const n of names) {
    if (!data.includes(n)) {
      throw new SysctrError(`--no-snapshot ${n}: ${name} has no data volume called ${n}`, { code: 2, hint: data.length ? `its data volumes: ${data.join(', ')}` : `${name} has no data volumes` });
    }
  }
}

/**
 * sysctr backup NAME [-o FILE] [--live] and sysctr restore FILE [--name N] [--force]
 * (docs/volumes.md). The archive itself is backup-archive.ts.
 *
 * backup: journal -> stop (unless --live) -> archive (to FILE's temp name, renamed when complete)
 * -> start again if it was running -> journal removed. A killed backup is finished by the next
 * command: its temp file removed, the service started again if the backup had stopped it.
 *
 * restore: the file is read and checked into a staging dir beside the volumes before anything
 * changes (a corrupt or truncated backup is refused, nothing changed); the container is installed
 * when missing (its image pulled when the store lacks it); then journal -> stop -> volumes (each
 * swapped in with renames) -> start -> journal removed. A killed restore is finished by the next
 * command from its staging dir, which was complete and verified before the journal named it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SysctrError } from '../errors.js';
import { Systemd } from '../systemd/systemctl.js';
import type { DeployContext } from './context.js';
import { readBackup, writeBackup, type BackupManifest } from './backup-archive.js';
import { removeLeftovers, swapDir } from './copy-tree.js';
import { validateName } from './names.js';
import { deploymentVolumes } from './snapshot.js';
import { containerPaths, liveDeployment, readInfo, writeJournal, withContainersLock, type Journal } from './state.js';
import { StepRunner } from './steps.js';
import { isUp, unitStatus } from './switch.js';
import { humanSize, treeSize, volumesRoot } from './volumes.js';

export interface BackupOptions {
  output?: string;
  /** do not stop the service */
  live?: boolean;
  /** bytes archived so far (a progress display) */
  progress?: (bytes: number, total: number) => void;
}

export async function backup(ctx: DeployContext, rawName: string, o: BackupOptions = {}): Promise<{ file: string; manifest?: BackupManifest; volumes?: string[] }> {
  const name = validateName(rawName);
  return withContainersLock(ctx.paths.root, ctx.out, async () => {
    const { finishInterrupted } = await import('./recover.js');
    await finishInterrupted(ctx, name);
    const c = containerPaths(ctx.paths, name);
    const live = liveDeployment(c);
    const info = live ? readInfo(live) : undefined;
    if (!live || !info) throw new SysctrError(`${name} is not installed`, { hint: 'see sysctr containers list --all' });
    const volumes = deploymentVolumes(live).filter((v) => v.type === 'data' && fs.existsSync(v.hostPath));
    if (!volumes.length) throw new SysctrError(`${name} has no data volumes: there is nothing to back up`, { hint: 'declare its data in the image\'s manifest.json "volumes" (docs/volumes.md)' });
    const file = path.resolve(o.output ?? `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.sysctr-backup`);
    if (!fs.existsSync(path.dirname(file))) throw new SysctrError(`-o ${o.output}: the directory ${path.dirname(file)} does not exist`);
    const partial = path.join(path.dirname(file), `.${path.basename(file)}.partial-${process.pid}`);
    const { Store } = await import('../store/store.js');
    const { findImage } = await import('../image/find.js');
    const rec = await Store.open(ctx.paths.store).read((view) => findImage(view, info.imageId)).catch(() => undefined);
    const systemd = new Systemd(ctx.runner, ctx.paths.user);
    const unit = `${name}.service`;
    const wasActive = !info.noContainerService && isUp(await unitStatus(systemd, unit));
    const stops = wasActive && !o.live;
    const total = volumes.reduce((n, v) => n + treeSize(v.hostPath), 0);
    if (ctx.dryRun) {
      ctx.out(`would ${stops ? `stop ${unit}, ` : ''}archive ${volumes.map((v) => v.name).join(', ')} (${humanSize(total)}) to ${file}${stops ? `, start ${unit} again` : ''}`);
      return { file, volumes: volumes.map((v) => v.name) };
    }
    const steps = new StepRunner('backup', ctx.env);
    await steps.step('journal', () => writeJournal(c, { op: 'backup', partial, restart: stops }));
    await steps.step('stop', async () => {
      if (stops) await systemd.stop(unit);
    });
    const manifest = await steps.step('archive', async () => {
      const m = await writeBackup(partial, volumes, {
        format: 1, name, image: info.image, imageId: info.imageId, digest: rec?.manifestDigest, source: rec?.source, set: info.set,
        wasActive, live: Boolean(o.live), created: new Date().toISOString(), volumes: volumes.map((v) => ({ name: v.name, mount: v.mount })),
      }, (b) => o.progress?.(b, total));
      fs.renameSync(partial, file);
      return m;
    });
    await steps.step('start', async () => {
      if (stops) await systemd.start(unit);
    });
    await steps.step('finish', () => fs.rmSync(c.journal, { force: true }));
    const bytes = Object.values(manifest.files).reduce((n, f) => n + f.size, 0);
    ctx.out(`backed up ${name} (${volumes.map((v) => v.name).join(', ')}: ${Object.keys(manifest.files).length} files, ${humanSize(bytes)}) to ${file}, ${humanSize(fs.statSync(file).size)} compressed${o.live ? ' (taken live)' : ''}`);
    return { file, manifest };
  });
}

export interface RestoreOptions {
  name?: string;
  /** replace data that is there */
  force?: boolean;
}

function nonEmpty(dir: string): boolean {
  try {
    return fs.readdirSync(dir).length > 0;
  } catch {
    return false;
  }
}

export async function restore(ctx: DeployContext, file: string, o: RestoreOptions = {}): Promise<{ name: string; installed: boolean; manifest: BackupManifest }> {
  if (o.name !== undefined) validateName(o.name);
  if (ctx.dryRun) return restorePlan(ctx, file, o);
  const staging = path.join(ctx.paths.root, 'volumes', `.restore-${process.pid}-${Date.now()}`);
  fs.mkdirSync(path.dirname(staging), { recursive: true, mode: 0o700 });
  removeDeadStaging(path.dirname(staging));
  const manifest = await readBackup(path.resolve(file), staging);
  try {
    const name = validateName(o.name ?? manifest.name);
    const c = containerPaths(ctx.paths, name);
    // what a killed command left for this name is finished before anything is decided
    const { finishInterrupted } = await import('./recover.js');
    await withContainersLock(ctx.paths.root, ctx.out, () => finishInterrupted(ctx, name));
    assertNotOccupied(ctx, name, manifest, o);
    let installed = false;
    if (!liveDeployment(c)) {
      ctx.out(`${name} is not installed: installing ${manifest.image} (${manifest.imageId.slice(7, 19)}) first`);
      await installFor(ctx, name, manifest);
      installed = true;
    }
    await withContainersLock(ctx.paths.root, ctx.out, async () => {
      assertVolumesDeclared(name, liveDeployment(c), manifest, file);
      const systemd = new Systemd(ctx.runner, ctx.paths.user);
      const wasActive = isUp(await unitStatus(systemd, `${name}.service`));
      const j = { op: 'restore', staging, volumes: manifest.volumes.map((v) => v.name), start: wasActive || (installed && manifest.wasActive) };
      const steps = new StepRunner('restore', ctx.env);
      await steps.step('journal', () => writeJournal(c, j));
      await finishRestore(ctx, name, j, steps);
    });
    ctx.out(`restored ${name}: ${manifest.volumes.map((v) => v.name).join(', ')} as backed up ${manifest.created}`);
    return { name, installed, manifest };
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

function assertNotOccupied(ctx: DeployContext, name: string, manifest: BackupManifest, o: RestoreOptions): void {
  const vroot = volumesRoot(ctx.paths.root, name);
  const occupied = manifest.volumes.filter((v) => nonEmpty(path.join(vroot, v.name)));
  if (occupied.length && !o.force) {
    throw new SysctrError(`${name} already has data in ${occupied.map((v) => path.join(vroot, v.name)).join(', ')}: restore would replace it`, {
      hint: `back that up first (sysctr backup ${name}) and restore with --force, or restore under another --name`,
    });
  }
}

function assertVolumesDeclared(name: string, live: string | undefined, manifest: BackupManifest, file: string): void {
  const declared = new Set(live ? deploymentVolumes(live).filter((v) => v.type === 'data').map((v) => v.name) : []);
  const missing = manifest.volumes.filter((v) => !declared.has(v.name));
  if (missing.length) throw new SysctrError(`${name} has no data volume ${missing.map((v) => v.name).join(', ')} (the backup has)`, { hint: `restore under the container's own image: sysctr uninstall ${name}, then sysctr restore ${file}` });
}

/**
 * restore --dry-run: the file read and checked in full (into a temp dir outside the state root,
 * removed after), the same refusals as a restore, and nothing changed.
 */
async function restorePlan(ctx: DeployContext, file: string, o: RestoreOptions): Promise<{ name: string; installed: boolean; manifest: BackupManifest }> {
  const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-restore-check-'));
  try {
    const manifest = await readBackup(path.resolve(file), staging);
    const name = validateName(o.name ?? manifest.name);
    assertNotOccupied(ctx, name, manifest, o);
    const live = liveDeployment(containerPaths(ctx.paths, name));
    if (live) assertVolumesDeclared(name, live, manifest, file);
    const what = manifest.volumes.map((v) => v.name).join(', ');
    ctx.out(live ? `would put ${what} back into ${name} as backed up ${manifest.created}` : `would install ${name} from ${manifest.image} (${manifest.imageId.slice(7, 19)}), then put ${what} in as backed up ${manifest.created}`);
    return { name, installed: !live, manifest };
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * Staging dirs of restores killed while reading their file (before a journal named them): their
 * process is gone. A journal's staging dir is left to that journal's recovery.
 */
function removeDeadStaging(dir: string): void {
  for (const e of fs.readdirSync(dir)) {
    const pid = Number(/^\.restore-(\d+)-/.exec(e)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
      continue; // a restore still running
    } catch {
      /* no such process */
    }
    const named = fs.readdirSync(path.dirname(dir)).some((j) => j.endsWith('.journal') && fs.readFileSync(path.join(path.dirname(dir), j), 'utf8').includes(e));
    if (!named) fs.rmSync(path.join(dir, e), { recursive: true, force: true });
  }
}

/** The container as the backup names it: its image by id, else by reference, else pulled again. */
async function installFor(ctx: DeployContext, name: string, m: BackupManifest): Promise<void> {
  const { Store } = await import('../store/store.js');
  const { findImage } = await import('../image/find.js');
  const { byId, byRef } = await Store.open(ctx.paths.store).read((view) => {
    const byId = findImage(view, m.imageId);
    return { byId, byRef: byId ? undefined : findImage(view, m.image) };
  });
  let image = byId?.id ?? byRef?.id;
  if (!image) {
    if (!m.source) throw new SysctrError(`the image ${m.image} of the backup is not in the store, and the backup does not say where it came from`, { hint: `pull it, then restore again: sysctr pull SOURCE` });
    image = m.source;
  }
  const { install } = await import('./install.js');
  await install(ctx, { image, name, set: Object.entries(m.set).map(([k, v]) => `${k}=${v}`) });
}

interface RestoreJournal {
  op: string;
  staging: string;
  volumes: string[];
  start: boolean;
}

/** The steps after the journal; also what the next command runs after a killed restore. */
async function finishRestore(ctx: DeployContext, name: string, j: RestoreJournal, steps = new StepRunner('restore', ctx.env)): Promise<void> {
  const c = containerPaths(ctx.paths, name);
  const systemd = new Systemd(ctx.runner, ctx.paths.user);
  const unit = `${name}.service`;
  await steps.step('stop', async () => {
    if (isUp(await unitStatus(systemd, unit))) await systemd.stop(unit);
  });
  await steps.step('volumes', () => {
    const vroot = volumesRoot(ctx.paths.root, name);
    for (const v of j.volumes) {
      const fresh = path.join(j.staging, 'volumes', v);
      // gone from staging: swapped in before a crash
      if (fs.existsSync(fresh)) {
        removeLeftovers(vroot, `.${v}.`);
        swapDir(fresh, path.join(vroot, v));
      }
    }
  });
  await steps.step('start', async () => {
    if (j.start) {
      await systemd.resetFailed(unit);
      await systemd.start(unit);
    }
  });
  await steps.step('finish', () => {
    fs.rmSync(j.staging, { recursive: true, force: true });
    fs.rmSync(c.journal, { force: true });
  });
}

/** recover.ts: a backup or restore a killed sysctr left; one line for the user. */
export async function finishBackupOrRestore(ctx: DeployContext, name: string, raw: Journal): Promise<string> {
  const c = containerPaths(ctx.paths, name);
  if (raw.op === 'restore') {
    await finishRestore(ctx, name, raw as unknown as RestoreJournal);
    return `${name}: finished an interrupted restore`;
  }
  fs.rmSync(String(raw.partial), { force: true });
  if (raw.restart && liveDeployment(c)) await new Systemd(ctx.runner, ctx.paths.user).start(`${name}.service`);
  fs.rmSync(c.journal, { force: true });
  return `${name}: removed what an interrupted backup left${raw.restart ? ' and started the service again' : ''}; take the backup again`;
}

/**
 * Switching a container's live deployment: the tail shared by `containers update`, its automatic
 * revert, `containers rollback`, and the recovery of any of them after a crash (recover.ts).
 *
 *   stop if active → host files (hostfs-apply.ts: what the admin changed is kept) → unit, drop-in,
 *   tmpfiles conf from the target deployment's copies (as they were
 *   rendered, never re-rendered) → enabled again if its [Install] section changed → ROOT/NAME
 *   symlink (new link + rename: the commit point) → daemon-reload → tmpfiles --create → start if
 *   it was active → (update) settle → journal removed
 *
 * Each step looks only at the journal and at the two deployments' own files, so running the whole
 * tail again after a crash at any point ends in the same state.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SysctrError } from '../errors.js';
import { fsyncDir, syncFilesystem } from '../fsutil.js';
import { unitFilesFor, writeAtomic, writeUnitFiles } from '../systemd/files.js';
import { installSection } from '../systemd/unit-file.js';
import { Systemd } from '../systemd/systemctl.js';
import { DROPIN_NAME } from '../systemd/dropin.js';
import { describeWrite } from './dry-run.js';
import { applyHostFiles, contentOf, readRecord } from './hostfs-apply.js';
import type { PlannedHostEntry } from '../hostfs/plan.js';
import type { DeployContext } from './context.js';
import { containerPaths, readInfo, writeJournal, type ContainerPaths, type DeploymentInfo, type Journal } from './state.js';
import { StepRunner } from './steps.js';
import { healthGate } from './health.js';
import { formatDuration, gateWindowMs, type HealthCheck } from '../runtime/healthcheck.js';
import { restoreForSwitch, snapshotForSwitch, type DataJournal } from './snapshot.js';

export type Slot = 0 | 1;
export type SwitchOp = 'update' | 'update-revert' | 'rollback';

/** The journal of an update, revert or rollback: where from, where to, and what to restore. */
export interface SwitchJournal {
  op: SwitchOp;
  from: Slot;
  to: Slot;
  /** the unit was active before: it is started again at the end */
  wasActive: boolean;
  /** update: also in the new deployment's info; tells it from an older deployment in that slot */
  token?: string;
  /** update: how long the new deployment must stay active */
  settleMs?: number;
  /** data volumes: what snapshot.ts reads (noSnapshot, restoreData, dataRestored) */
  noSnapshot?: string[];
  restoreData?: string;
  dataRestored?: boolean;
}

export interface SwitchOutcome {
  /** the slot that is live at the end */
  live: Slot;
  /** the unit was started (it was active before) */
  started: boolean;
  /** rollback / revert: the start failed (the switch itself is complete) */
  startError?: string;
  /** update: the new deployment did not start or stay up; it was reverted to `from` */
  reverted?: { reason: string; startError?: string; unhealthy?: boolean };
}

export const DEFAULT_SETTLE_MS = 2000;

export function otherSlot(s: Slot): Slot {
  return s === 0 ? 1 : 0;
}

/** 0 or 1 from a deployment dir ROOT/NAME.N. */
export function slotOf(deployment: string): Slot {
  return deployment.endsWith('.1') ? 1 : 0;
}

export function writeSwitchJournal(c: ContainerPaths, j: SwitchJournal): void {
  writeJournal(c, { ...j });
}

export function toJournal(j: Journal | undefined): SwitchJournal | undefined {
  if (!j || (j.op !== 'update' && j.op !== 'update-revert' && j.op !== 'rollback')) return undefined;
  return j as unknown as SwitchJournal;
}

/** A deployment's unit (with sysctr's header), drop-in and tmpfiles conf ('' for none). */
export interface HostFiles {
  unit: string;
  dropIn: string;
  tmpfiles: string;
  /** manifest.json noContainerService: no unit (unit and dropIn are '') */
  noService?: boolean;
  /** update --dry-run: the new deployment's host files (/exports/hostfs), not written yet */
  hostFiles?: PlannedHostEntry[];
  /** update --dry-run: the new deployment's health check (its info is not written yet) */
  healthcheck?: HealthCheck;
}

/** The unit, drop-in and tmpfiles conf a deployment was rendered with (kept beside its info). */
export function renderedHostFiles(deployment: string, name: string): HostFiles {
  const read = (f: string) => {
    try {
      return fs.readFileSync(path.join(deployment, f), 'utf8');
    } catch {
      return undefined;
    }
  };
  const tmpfiles = read(`${name}.conf`) ?? '';
  if (readInfo(deployment)?.noContainerService) return { unit: '', dropIn: '', tmpfiles, noService: true };
  const unit = read(`${name}.service`);
  const dropIn = read(DROPIN_NAME);
  if (unit === undefined || dropIn === undefined) {
    throw new SysctrError(`${path.basename(deployment)} has no copy of its rendered unit (${name}.service, ${DROPIN_NAME})`, {
      hint: `it cannot be switched to as it was rendered; update the container instead: sysctr containers update ${name}`,
    });
  }
  return { unit, dropIn, tmpfiles };
}

/** A deployment's copy of its rendered unit, if it has one. */
function renderedUnit(deployment: string, name: string): string | undefined {
  try {
    return fs.readFileSync(path.join(deployment, `${name}.service`), 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * A new link and a rename: ROOT/NAME points at the old or the new target, never at nothing. The
 * temp link's name starts with a dot, so a kill between the two calls never adds a name to
 * `containers list`.
 */
/**
 * Points ROOT/NAME at a deployment: symlink beside it, then rename over. The deployment's files
 * reach the disk first (one syncfs of the state root), and the rename is made durable (fsync of
 * the directory): after a power cut the link names the old deployment or a complete new one.
 */
export function linkAtomic(target: string, link: string): void {
  const dir = path.dirname(link);
  syncFilesystem(dir);
  // dot-named: a kill between symlink and rename must not add a container name to the listing
  const tmp = path.join(dir, `.${path.basename(link)}.sysctr-link-${process.pid}`);
  fs.rmSync(tmp, { force: true });
  fs.symlinkSync(target, tmp);
  fs.renameSync(tmp, link);
  fsyncDir(dir);
}

export interface UnitStatus {
  activeState: string;
  subState: string;
  result: string;
  nRestarts: number;
  mainPid: number;
}

export async function unitStatus(systemd: Systemd, unit: string): Promise<UnitStatus> {
  const r = await systemd.runner.run(
    'systemctl',
    [...(systemd.user ? ['--user'] : []), 'show', '-p', 'ActiveState,SubState,Result,NRestarts,MainPID', '--', unit],
    { allowFailure: true },
  );
  const kv: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) kv[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return {
    activeState: kv.ActiveState ?? '',
    subState: kv.SubState ?? '',
    result: kv.Result ?? '',
    nRestarts: Number(kv.NRestarts ?? 0) || 0,
    mainPid: Number(kv.MainPID ?? 0) || 0,
  };
}

/** Active, or on its way there: what "it was running" means for restarting it after the switch. */
export function isUp(s: UnitStatus): boolean {
  return s.activeState === 'active' || s.activeState === 'activating' || s.activeState === 'reloading';
}

/**
 * After a successful start job: the unit must stay active for `ms` (no restart, no exit). Polls
 * every 200 ms and returns at the first sign of failure.
 */
export async function settle(systemd: Systemd, unit: string, ms: number): Promise<string | undefined> {
  const first = await unitStatus(systemd, unit);
  const deadline = Date.now() + ms;
  let s = first;
  for (;;) {
    if (s.activeState !== 'active' || s.subState === 'auto-restart') {
      return `${unit} is ${s.activeState}${s.subState ? ` (${s.subState})` : ''}${s.result && s.result !== 'success' ? `, result ${s.result}` : ''}`;
    }
    if (s.nRestarts > first.nRestarts || (first.mainPid && s.mainPid !== first.mainPid)) {
      return `${unit} restarted (its main process exited)`;
    }
    if (Date.now() >= deadline) return undefined;
    await new Promise((res) => setTimeout(res, Math.min(200, Math.max(0, deadline - Date.now()))));
    s = await unitStatus(systemd, unit);
  }
}

/**
 * Removes the old deployments clearSlot renamed away (and any a killed command left) in a detached
 * `rm -rf`: unlinking tens of thousands of files is not worth making the user wait for, and
 * nothing refers to those directories any more. Uninstall removes any that are left.
 */
export function removeInBackground(root: string, name: string): void {
  const old = fs.readdirSync(root).filter((e) => e.startsWith(`.${name}.0.partial-old-`) || e.startsWith(`.${name}.1.partial-old-`));
  if (!old.length) return;
  spawn('rm', ['-rf', '--', ...old.map((e) => path.join(root, e))], { detached: true, stdio: 'ignore' }).unref();
}

/** A token that tells a new deployment from an older one in the same slot. */
export function newToken(): string {
  return `${new Date().toISOString()}#${crypto.randomBytes(4).toString('hex')}`;
}

/** Marks a deployment that did not start, in its info (containers info shows it). */
function markFailed(deployment: string, reason: string): void {
  const info = readInfo(deployment);
  if (!info) return;
  const marked: DeploymentInfo & { failed?: { at: string; reason: string } } = { ...info, failed: { at: new Date().toISOString(), reason } };
  writeAtomic(path.join(deployment, 'info'), JSON.stringify(marked, null, 2) + '\n', 0o600);
}

/**
 * Runs the switch described by the journal (already written), from its `stop` step to `finish`.
 * An update whose new deployment does not start is reverted here (a second journal, op
 * update-revert) and reported in the outcome; the caller decides how to tell the user.
 */
export async function completeSwitch(ctx: DeployContext, name: string, j: SwitchJournal, planned?: HostFiles): Promise<SwitchOutcome> {
  const c = containerPaths(ctx.paths, name);
  const f = unitFilesFor(ctx.paths, name);
  const systemd = new Systemd(ctx.runner, ctx.paths.user);
  const steps = new StepRunner<SwitchOp>(j.op, ctx.env);
  const unit = `${name}.service`;
  const target = c.deployment(j.to);
  // --dry-run: an update's new deployment is not written, its files come from the caller; the
  // runner prints what would change the host and runs only systemctl's queries
  const dry = ctx.dryRun;
  const files = planned ?? renderedHostFiles(target, name);

  await steps.step('stop', async () => {
    const s = await unitStatus(systemd, unit);
    // a failed version between its exit and Restart='s next try is deactivating or auto-restart:
    // a revert stops it whatever its state, so it cannot run again over the restored data
    const pending = s.activeState === 'deactivating' || s.subState === 'auto-restart' || (j.op === 'update-revert' && !files.noService);
    if (isUp(s) || pending) await systemd.stop(unit);
  });
  // data volumes (snapshot.ts), the service stopped: an update snapshots them; its revert and
  // rollback --with-data put the snapshot back before the old version starts
  if (j.op === 'update') await steps.step('snapshot', () => snapshotForSwitch(ctx, name, j as DataJournal));
  else await steps.step('restore-data', () => restoreForSwitch(ctx, name, j as DataJournal));
  await steps.step('host-files', () => {
    const from = readRecord(c.deployment(j.from))?.files ?? [];
    const to = files.hostFiles ?? readRecord(target)?.files ?? [];
    if (!from.length && !to.length) return;
    const rootfs = readInfo(target)?.rootfs ?? path.join(target, 'rootfs');
    const load = files.hostFiles ? (e: { path: string }) => files.hostFiles!.find((p) => p.path === e.path)!.content! : (e: Parameters<typeof contentOf>[2]) => contentOf(target, rootfs, e);
    applyHostFiles(ctx, { to, from, load, recordDir: target });
  });
  await steps.step('unit-files', () => {
    if (files.noService) {
      if (!dry) return files.tmpfiles.trim() ? writeAtomic(f.tmpfiles, files.tmpfiles) : fs.rmSync(f.tmpfiles, { force: true });
      return describeWrite(ctx.out, f.tmpfiles, files.tmpfiles.trim() ? files.tmpfiles : undefined);
    }
    if (!dry) return writeUnitFiles(f, { unit: files.unit, dropIn: files.dropIn, tmpfiles: files.tmpfiles });
    describeWrite(ctx.out, f.dropIn, files.dropIn);
    describeWrite(ctx.out, f.tmpfiles, files.tmpfiles.trim() ? files.tmpfiles : undefined);
    describeWrite(ctx.out, f.unit, files.unit);
  });
  await steps.step('enable', async () => {
    if (files.noService) return;
    // `enable` made the unit's links from the [Install] section it read then (the source
    // deployment's copy of the unit): when the target's differs, an enabled unit is enabled again
    // from it; one that someone disabled is left disabled
    const from = renderedUnit(c.deployment(j.from), name);
    if (from === undefined || installSection(from) === installSection(files.unit)) return;
    if ((await systemd.enablement(unit)) === 'enabled') await systemd.reenable(unit);
  });
  await steps.step('symlink', () => (dry ? ctx.out(`would link ${c.link} -> ${path.basename(target)}`) : linkAtomic(path.basename(target), c.link)));
  await steps.step('daemon-reload', () => systemd.daemonReload());
  await steps.step('tmpfiles', async () => {
    if (files.tmpfiles.trim()) await systemd.tmpfilesCreate(f.tmpfiles);
  });
  let startError: string | undefined;
  await steps.step('start', async () => {
    if (!j.wasActive) return;
    // a unit that failed (or hit its start limit) before the switch must be allowed to start
    if (j.op !== 'update') await systemd.resetFailed(unit);
    try {
      await systemd.start(unit);
    } catch (err) {
      if (!(err instanceof SysctrError)) throw err;
      startError = err.message;
    }
  });
  if (j.op === 'update') {
    let failure: string | undefined = startError;
    let unhealthy = false;
    // the gate: a deployment with a health check commits when the check passes (health.ts), one
    // without when its unit stays active for the settle time (a Type=notify unit is active only
    // once it said READY=1); a crash in here leaves the journal, and recovery runs the gate again
    await steps.step('settle', async () => {
      const ms = j.settleMs ?? DEFAULT_SETTLE_MS;
      const health = dry ? planned?.healthcheck : readInfo(target)?.healthcheck;
      const back = path.basename(c.deployment(j.from));
      if (dry && j.wasActive && health) ctx.out(`would run ${name}'s health check until it passes, for up to ${formatDuration(gateWindowMs(health))}, and switch back to ${back} if it does not`);
      else if (dry && j.wasActive) ctx.out(`would wait ${ms / 1000} s for ${unit} to stay active, and switch back to ${back} if it does not`);
      else if (j.wasActive && !failure) {
        failure = health ? await healthGate(ctx, systemd, name, target) : await settle(systemd, unit, ms);
        unhealthy = Boolean(health && failure);
      }
    });
    if (failure) return revert(ctx, name, j, c, failure, startError, unhealthy);
  }
  await steps.step('finish', () => (dry ? undefined : fs.rmSync(c.journal, { force: true })));
  return { live: j.to, started: j.wasActive && !startError, startError };
}

async function revert(ctx: DeployContext, name: string, j: SwitchJournal, c: ContainerPaths, reason: string, startError?: string, unhealthy?: boolean): Promise<SwitchOutcome> {
  markFailed(c.deployment(j.to), reason);
  const back: SwitchJournal = { op: 'update-revert', from: j.to, to: j.from, wasActive: j.wasActive, restoreData: j.token };
  await new StepRunner('update-revert', ctx.env).step('journal', () => writeSwitchJournal(c, back));
  const out = await completeSwitch(ctx, name, back);
  return { ...out, reverted: { reason, startError, ...(unhealthy ? { unhealthy } : {}) } };
}

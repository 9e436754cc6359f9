/**
 * uninstall NAME (docs/design.md, journaled steps): disable --now, remove unit and drop-in, daemon-reload, tmpfiles --remove,
 * remove conf, host files as sysctr wrote them (changed ones are kept) and the directories it made
 * for them when empty, symlink and deployments. Idempotent: every step looks before it acts, so it also
 * finishes a half-done install or uninstall (a unit left with no deployment, a deployment with no
 * unit, a journal from a killed command).
 */
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_RUNTIME, resolveRuntime } from '../runtime/check.js';
import { Runc } from '../runtime/runc.js';
import { dropInOwner, removeUnitFiles, tmpfilesOwner, unitFilesFor, unitOwner } from '../systemd/files.js';
import { Systemd } from '../systemd/systemctl.js';
import type { DeployContext } from './context.js';
import { readRecord, removeHostFiles } from './hostfs-apply.js';
import { policyOf } from './auto-update/policy.js';
import { validateName } from './names.js';
import { containerPaths, liveDeployment, readInfo, readJournal, tmpfilesCopies, withContainersLock, writeJournal, type DeploymentInfo, stateRootExists } from './state.js';
import { StepRunner } from './steps.js';
import { volumesAfterUninstall } from './volumes.js';

export interface UninstallResult {
  name: string;
  /** false: there was nothing of it to remove */
  removed: boolean;
}

function exists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Temp dirs and links a killed install left (ROOT/.NAME.0.partial-PID, ROOT/.NAME.sysctr-link-PID). */
/** What a killed checkout or link switch of NAME left in the state root. */
export function partialDirs(root: string, name: string): string[] {
  try {
    const prefixes = [`.${name}.0.partial-`, `.${name}.1.partial-`, `.${name}.sysctr-link-`];
    return fs.readdirSync(root).filter((e) => prefixes.some((p) => e.startsWith(p))).map((e) => path.join(root, e));
  } catch {
    return [];
  }
}

export async function uninstall(ctx: DeployContext, rawName: string, opts: { purge?: boolean } = {}): Promise<UninstallResult> {
  const name = validateName(rawName);
  if (ctx.dryRun || !stateRootExists(ctx.paths.root)) return withTimer(ctx, name, () => uninstallUnlocked(ctx, name, opts));
  return withContainersLock(ctx.paths.root, ctx.out, () => withTimer(ctx, name, () => uninstallUnlocked(ctx, name, opts)));
}

/** The last container with an auto-update policy takes the timer with it (auto-update/timer.ts). */
async function withTimer(ctx: DeployContext, name: string, fn: () => Promise<UninstallResult>): Promise<UninstallResult> {
  const live = liveDeployment(containerPaths(ctx.paths, name));
  const hadPolicy = policyOf(live ? readInfo(live) : undefined) !== 'disabled';
  const r = await fn();
  if (hadPolicy && r.removed) {
    const { syncTimer } = await import('./auto-update/timer.js');
    await syncTimer(ctx, { name, policy: 'removed' });
  }
  return r;
}

/** uninstall for a caller that holds the containers lock (install finishing a half-done one). */
export async function uninstallUnlocked(ctx: DeployContext, name: string, opts: { purge?: boolean } = {}): Promise<UninstallResult> {
  const c = containerPaths(ctx.paths, name);
  const f = unitFilesFor(ctx.paths, name);
  const owner = unitOwner(f);
  const dropInOurs = dropInOwner(f) === 'sysctr';
  // read before the deployments go: a conf equal to one of their copies is sysctr's
  const confOurs = tmpfilesOwner(f, tmpfilesCopies(c, name)) === 'sysctr';
  const deployments = [c.deployment(0), c.deployment(1)].filter(exists);
  const partial = partialDirs(ctx.paths.root, name);
  const journal = readJournal(c);
  // --purge (volumes.ts): also the data volumes; an interrupted uninstall --purge stays one
  const purge = Boolean(opts.purge) || journal?.purge === true;
  const volumes = volumesAfterUninstall(ctx.paths.root, name);
  const live = liveDeployment(c);
  // sysctr's own traces; a tmpfiles conf alone is not one (it may be someone else's file)
  const ours = owner === 'sysctr' || dropInOurs || exists(c.link) || deployments.length > 0 || partial.length > 0 || journal !== undefined;
  if (!ours && purge && volumes.exists()) {
    volumes.finish(ctx, true); // what an earlier uninstall kept
    return { name, removed: true };
  }
  if (!ours) {
    ctx.out(`${name}: not installed; nothing to do`);
    volumes.finish(ctx, false); // says where data an earlier uninstall kept is
    return { name, removed: false };
  }
  const info: DeploymentInfo | undefined = (live && readInfo(live)) || deployments.map(readInfo).find(Boolean);
  const unit = `${name}.service`;
  const systemd = new Systemd(ctx.runner, ctx.paths.user);
  const steps = new StepRunner('uninstall', ctx.env);
  const say = (s: string) => ctx.out(`${ctx.dryRun ? 'would ' : ''}${s}`);

  await steps.step('journal', () => {
    if (!ctx.dryRun) writeJournal(c, { op: 'uninstall', previous: journal?.op, ...(purge ? { purge: true } : {}) });
  });
  await steps.step('disable', async () => {
    if (owner === 'sysctr') {
      say(`stop and disable ${unit}`);
      await systemd.disableNow(unit);
      await systemd.resetFailed(unit);
    }
  });
  await steps.step('container', async () => {
    // a container the unit no longer knows (unit removed first by a killed uninstall, or `run`)
    let runtime: string | undefined;
    try {
      runtime = resolveRuntime(info?.runtime ?? DEFAULT_RUNTIME);
    } catch {
      runtime = undefined;
    }
    if (runtime) await new Runc(ctx.runner, runtime, { root: ctx.paths.runcRoot }).delete(name);
  });
  let reload = false;
  await steps.step('unit-files', () => {
    if (owner === 'sysctr' || dropInOurs) {
      say(`remove ${[owner === 'sysctr' ? f.unit : '', dropInOurs ? f.dropIn : ''].filter(Boolean).join(' and ')}`);
      if (!ctx.dryRun) {
        if (owner === 'sysctr' && dropInOurs) removeUnitFiles(f);
        else if (owner === 'sysctr') fs.rmSync(f.unit, { force: true });
        else fs.rmSync(f.dropIn, { force: true }); // never someone else's unit
      }
      reload = true;
    }
  });
  await steps.step('daemon-reload', async () => {
    if (reload || journal) await systemd.daemonReload();
  });
  await steps.step('tmpfiles', async () => {
    if (exists(f.tmpfiles) && !confOurs) say(`keep ${f.tmpfiles}: it was not written by sysctr`);
    else if (exists(f.tmpfiles)) {
      await systemd.tmpfilesRemove(f.tmpfiles);
      say(`remove ${f.tmpfiles}`);
      if (!ctx.dryRun) fs.rmSync(f.tmpfiles, { force: true });
    }
  });
  await steps.step('host-files', () => {
    const records = deployments.map(readRecord).filter((r) => r !== undefined);
    if (records.length) removeHostFiles(ctx, records);
  });
  await steps.step('symlink', () => {
    if (exists(c.link)) {
      say(`remove ${c.link}`);
      if (!ctx.dryRun) fs.rmSync(c.link, { force: true });
    }
  });
  await steps.step('deployments', () => {
    for (const d of [...deployments, ...partial]) {
      say(`remove ${d}`);
      if (!ctx.dryRun) fs.rmSync(d, { recursive: true, force: true });
    }
  });
  await steps.step('volumes', () => volumes.finish(ctx, purge));
  await steps.step('finish', () => {
    if (!ctx.dryRun) fs.rmSync(c.journal, { force: true });
  });
  return { name, removed: true };
}

/**
 * containers rollback NAME (docs/update.md): back to the other deployment, as it was rendered
 * (its kept unit, drop-in and tmpfiles conf; nothing is re-rendered), stopping and starting the
 * service only if it was active. Rolling back twice returns to where it started.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SysctrError } from '../errors.js';
import { assertUnitIsOurs, unitFilesFor } from '../systemd/files.js';
import { Systemd } from '../systemd/systemctl.js';
import type { DeployContext } from './context.js';
import { validateName } from './names.js';
import { policyOf, writePolicy } from './auto-update/policy.js';
import { finishInterrupted } from './recover.js';
import { containerPaths, liveDeployment, readInfo, withContainersLock, stateRootExists } from './state.js';
import { StepRunner } from './steps.js';
import { healthGate } from './health.js';
import { age, snapshotForRollback } from './snapshot.js';
import { DEFAULT_SETTLE_MS, completeSwitch, isUp, otherSlot, removeInBackground, renderedHostFiles, settle, slotOf, unitStatus, writeSwitchJournal, type SwitchJournal } from './switch.js';

export interface RollbackResult {
  name: string;
  from: string;
  to: string;
  image: string;
  imageId: string;
  restarted: boolean;
  /** the rollback target is a deployment that failed to start before */
  targetFailed?: string;
  /** finishing an interrupted rollback was the whole job */
  finished?: string;
  /** --dry-run: the plan was printed, nothing changed */
  dryRun?: boolean;
  /** --with-data: the snapshot put back, and how old it was */
  data?: { taken: string; age: string; volumes: string[] };
}

export interface RollbackOptions {
  /** milliseconds the restarted deployment must stay active to count as up (default 2 s; 0: do not wait) */
  settleMs?: number;
  /** also put back the data volumes from the last update's snapshot */
  withData?: boolean;
}

export async function rollback(ctx: DeployContext, rawName: string, o: RollbackOptions = {}): Promise<RollbackResult> {
  const name = validateName(rawName);
  if (!stateRootExists(ctx.paths.root)) throw new SysctrError(`${name} is not installed`, { hint: 'see sysctr containers list --all' });
  return withContainersLock(ctx.paths.root, ctx.out, () => rollbackLocked(ctx, name, o));
}

async function rollbackLocked(ctx: DeployContext, name: string, o: RollbackOptions): Promise<RollbackResult> {
  const recovered = await finishInterrupted(ctx, name); // under --dry-run: an error if there is one
  if (!ctx.dryRun) removeInBackground(ctx.paths.root, name); // an old deployment a killed update had renamed away
  const c = containerPaths(ctx.paths, name);
  const live = liveDeployment(c);
  const info = live ? readInfo(live) : undefined;
  if (!live || !info) throw new SysctrError(`${name} is not installed`, { hint: 'see sysctr containers list --all' });
  const from = slotOf(live);
  const to = otherSlot(from);
  // the command that was interrupted was this one: finishing it is what the user asked for
  if (recovered?.op === 'rollback' && recovered.outcome === 'completed') {
    return { name, from: path.basename(c.deployment(to)), to: path.basename(live), image: info.image, imageId: info.imageId, restarted: false, finished: recovered.message };
  }
  const target = readInfo(c.deployment(to));
  if (!target) {
    throw new SysctrError(`${name} has no other deployment to roll back to (only ${path.basename(live)})`, {
      hint: `a rollback deployment appears after the first update: sysctr containers update ${name}`,
    });
  }
  renderedHostFiles(c.deployment(to), name); // its rendered unit must be there before anything changes
  assertUnitIsOurs(unitFilesFor(ctx.paths, name), name);
  const systemd = new Systemd(ctx.runner, ctx.paths.user);
  const wasActive = isUp(await unitStatus(systemd, `${name}.service`));
  // --with-data: the snapshot the update to the live deployment took (snapshot.ts), checked first
  const snap = o.withData ? snapshotForRollback(ctx.paths.root, name, live, from) : undefined;
  const data = snap ? { taken: snap.taken, age: age(snap.taken), volumes: snap.volumes.map((v) => v.name) } : undefined;
  const j: SwitchJournal = { op: 'rollback', from, to, wasActive, ...(snap ? { restoreData: snap.token } : {}) };
  if (ctx.dryRun) {
    ctx.out(`would roll back ${name}: ${path.basename(live)} (${info.image}, ${info.imageId.slice(7, 19)}) -> ${path.basename(c.deployment(to))} (${target.image}, ${target.imageId.slice(7, 19)})`);
    await completeSwitch(ctx, name, j);
    return { name, from: path.basename(live), to: path.basename(c.deployment(to)), image: target.image, imageId: target.imageId, restarted: wasActive, dryRun: true, data };
  }
  // the auto-update policy belongs to the container, not to one deployment: it goes along
  writePolicy(c.deployment(to), policyOf(info));
  await new StepRunner('rollback', ctx.env).step('journal', () => writeSwitchJournal(c, j));
  const outcome = await completeSwitch(ctx, name, j);
  const failed = (target as { failed?: { reason: string } }).failed?.reason;
  if (outcome.startError) {
    throw new SysctrError(`${name}: rolled back to ${path.basename(c.deployment(to))} (${target.image}), but it did not start: ${outcome.startError}`, {
      hint: `see journalctl -u ${name}.service; roll back again to return: sysctr containers rollback ${name}`,
    });
  }
  // a deployment with a health check is gated like an update's: unhealthy, it is switched back
  // (the switch back is a rollback of its own, journaled; the data --with-data put back stays)
  if (outcome.started && target.healthcheck) {
    const failure = await healthGate(ctx, systemd, name, c.deployment(to));
    if (failure) {
      const back: SwitchJournal = { op: 'rollback', from: to, to: from, wasActive: true };
      await new StepRunner('rollback', ctx.env).step('journal', () => writeSwitchJournal(c, back));
      const undone = await completeSwitch(ctx, name, back);
      throw new SysctrError(`${name}: rolled back to ${path.basename(c.deployment(to))} (${target.image}), but it is unhealthy: ${failure}; switched back to ${path.basename(live)}${undone.startError ? `, which did not start: ${undone.startError}` : ''}`, {
        hint: `see sysctr healthcheck ${name} and journalctl -u ${name}.service`,
      });
    }
    return { name, from: path.basename(live), to: path.basename(c.deployment(to)), image: target.image, imageId: target.imageId, restarted: true, targetFailed: failed, data };
  }
  // as install --now: a started service that exits at once is reported, not left to look up.
  // A rollback is the user's explicit choice, so it is not switched back again.
  const settleMs = o.settleMs ?? DEFAULT_SETTLE_MS;
  if (outcome.started && settleMs > 0) {
    const failure = await settle(systemd, `${name}.service`, settleMs);
    if (failure) {
      throw new SysctrError(`${name}: rolled back to ${path.basename(c.deployment(to))} (${target.image}), but it did not stay up: ${failure}`, {
        hint: `see journalctl -u ${name}.service; roll back again to return: sysctr containers rollback ${name}`,
      });
    }
  }
  return { name, from: path.basename(live), to: path.basename(c.deployment(to)), image: target.image, imageId: target.imageId, restarted: outcome.started, targetFailed: failed, data };
}

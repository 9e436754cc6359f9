/**
 * Finishing what a killed sysctr left (crash safety: docs/design.md, journaled steps). Every deployment operation writes
 * a journal ROOT/.NAME.journal first and removes it last; the next command for that name reads it:
 *
 * - update: when the new deployment is complete in its slot (its info carries the journal's token)
 *   the update is completed - switched to, started if the service was running, and reverted like
 *   any update if it does not stay up. Otherwise it is undone: the half checkout is removed; the
 *   live deployment was never touched.
 * - update-revert, rollback: completed (the target is a complete deployment by construction).
 * - install, uninstall: what they left is removed (uninstall is idempotent; installing again
 *   starts from nothing) - unless the caller is install/uninstall, which do that themselves.
 * - a journal that cannot be read (DAMAGED_JOURNAL: which operation it was is lost): the live
 *   link decides. With a complete live deployment, the unit, drop-in and tmpfiles conf are written
 *   again from its copies and systemd reloaded (the service is neither stopped nor started); with
 *   none, it is removed like an interrupted install. Said so, never read as "nothing pending".
 *
 * The caller holds the containers lock (state.ts withContainersLock): no other sysctr is running
 * an operation, so a journal is always a killed command's.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SysctrError } from '../errors.js';
import type { DeployContext } from './context.js';
import { containerPaths, DAMAGED_JOURNAL, liveDeployment, readInfo, readJournal } from './state.js';
import { completeSwitch, removeInBackground, renderedHostFiles, toJournal } from './switch.js';
import { unitFilesFor, writeUnitFiles } from '../systemd/files.js';
import { Systemd } from '../systemd/systemctl.js';

export interface Recovery {
  op: string;
  outcome: 'completed' | 'undone' | 'reverted' | 'removed';
  /** one line for the user */
  message: string;
}

export async function finishInterrupted(ctx: DeployContext, name: string, opts: { installs?: boolean } = {}): Promise<Recovery | undefined> {
  const c = containerPaths(ctx.paths, name);
  const raw = readJournal(c);
  if (!raw) return undefined;
  if (ctx.dryRun) throw new SysctrError(`${name}: a ${raw.op} was interrupted; run the command without --dry-run to finish it first`);
  const say = (r: Recovery) => {
    ctx.out(r.message);
    return r;
  };
  if (raw.op === DAMAGED_JOURNAL) return say(await repairFromLive(ctx, name, opts));
  if (raw.op === 'install' || raw.op === 'uninstall') {
    if (opts.installs === false) return undefined;
    const { uninstallUnlocked } = await import('./uninstall.js');
    await uninstallUnlocked({ ...ctx, out: () => {} }, name);
    return say({ op: raw.op, outcome: 'removed', message: `${name}: removed what an interrupted ${raw.op} left; install it again to use it` });
  }
  if (raw.op === 'backup' || raw.op === 'restore') {
    const { finishBackupOrRestore } = await import('./backup.js');
    return say({ op: raw.op, outcome: 'completed', message: await finishBackupOrRestore(ctx, name, raw) });
  }
  const j = toJournal(raw);
  if (!j) throw new SysctrError(`${name}: unknown operation "${raw.op}" in ${c.journal}`, { hint: `remove that file if no sysctr is running, then try again` });
  const to = c.deployment(j.to);
  const complete = j.op !== 'update' || (readInfo(to) as { token?: string } | undefined)?.token === j.token;
  if (!complete) {
    // the new deployment never got into its slot: nothing of the live one was touched yet
    for (const e of fs.readdirSync(ctx.paths.root)) {
      if (e.startsWith(`.${name}.${j.to}.partial-`)) fs.rmSync(path.join(ctx.paths.root, e), { recursive: true, force: true });
    }
    fs.rmSync(c.journal, { force: true });
    return say({ op: j.op, outcome: 'undone', message: `${name}: undid an interrupted update (its new deployment was not complete); ${path.basename(c.deployment(j.from))} stays live` });
  }
  const outcome = await completeSwitch(ctx, name, j);
  removeInBackground(ctx.paths.root, name);
  if (outcome.reverted) {
    const why = outcome.reverted.unhealthy ? 'it is unhealthy' : 'it did not start';
    return say({ op: j.op, outcome: 'reverted', message: `${name}: an interrupted update to ${path.basename(to)} was finished but ${why} (${outcome.reverted.reason}); back on ${path.basename(c.deployment(j.from))}` });
  }
  const what = j.op === 'update-revert' ? 'the revert of a failed update' : `an interrupted ${j.op}`;
  return say({ op: j.op, outcome: 'completed', message: `${name}: finished ${what}; ${path.basename(c.deployment(outcome.live))} is live` });
}

/** A damaged journal: bring the host files back in line with the live deployment, or remove what an install left. */
async function repairFromLive(ctx: DeployContext, name: string, opts: { installs?: boolean }): Promise<Recovery> {
  const c = containerPaths(ctx.paths, name);
  const damaged = `${name}: its journal ${c.journal} could not be read (an operation was cut short, by a crash or a power cut)`;
  const { partialDirs } = await import('./uninstall.js');
  for (const d of partialDirs(ctx.paths.root, name)) fs.rmSync(d, { recursive: true, force: true });
  const live = liveDeployment(c);
  if (!live || !readInfo(live)) {
    if (opts.installs !== false) {
      const { uninstallUnlocked } = await import('./uninstall.js');
      await uninstallUnlocked({ ...ctx, out: () => {} }, name);
    }
    fs.rmSync(c.journal, { force: true });
    return { op: DAMAGED_JOURNAL, outcome: 'removed', message: `${damaged}; it had no complete live deployment, so what it left was removed; install it again to use it` };
  }
  const files = renderedHostFiles(live, name);
  const f = unitFilesFor(ctx.paths, name);
  writeUnitFiles(f, files);
  const systemd = new Systemd(ctx.runner, ctx.paths.user);
  await systemd.daemonReload();
  if (files.tmpfiles.trim()) await systemd.tmpfilesCreate(f.tmpfiles);
  fs.rmSync(c.journal, { force: true });
  return { op: DAMAGED_JOURNAL, outcome: 'completed', message: `${damaged}; repaired: its unit files were written again from ${path.basename(live)}, which stays live` };
}

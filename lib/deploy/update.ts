/**
 * containers update (docs/update.md): a new image or new values deployed into the other slot
 * beside the live one, then switched in (switch.ts); an update that does not start is reverted.
 *
 *   finish an interrupted operation → "already up to date"? → render everything (nothing written
 *   yet; a rendering error stops here) → journal → clear the other slot → check it out (temp dir,
 *   renamed when complete, with config.json, info and the rendered unit files) → switch
 */
import fs from 'node:fs';
import path from 'node:path';
import { SysctrError, usageError } from '../errors.js';
import { writeTree } from '../rootfs/checkout.js';
import type { MergedTree } from '../rootfs/tree.js';
import { resolveRuntime } from '../runtime/check.js';
import { managerCapabilities } from '../runtime/manager-caps.js';
import { requireManagerFor, rootlessRuntime } from './rootless.js';
import { renderDropIn, stopMinUptimeFrom, stopTimeoutFrom } from '../systemd/dropin.js';
import { assertUnitIsOurs, unitFilesFor, withHeader, writeAtomic } from '../systemd/files.js';
import { Systemd } from '../systemd/systemctl.js';
import { assertStillStored, findImage, imageConfig } from '../image/find.js';
import { mergedTree } from '../rootfs/merged.js';
import type { Store } from '../store/store.js';
import type { ImageRecord } from '../store/types.js';
import { warn, type DeployContext } from './context.js';
import { validateName } from './names.js';
import { recheckout } from '../rootfs/recheckout.js';
import { finishInterrupted } from './recover.js';
import { readTreeExports } from '../rootfs/exports.js';
import { renderDeployment } from './render.js';
import { containerPaths, installedNames, liveDeployment, readInfo, withContainersLock, type DeploymentInfo, stateRootExists } from './state.js';
import { StepRunner } from './steps.js';
import { DEFAULT_SETTLE_MS, completeSwitch, isUp, newToken, otherSlot, removeInBackground, slotOf, unitStatus, writeSwitchJournal, type SwitchJournal } from './switch.js';
import { parseSetArgs } from '../template/values.js';
import { describeWrite } from './dry-run.js';
import { readRecord, writeRecordInto } from './hostfs-apply.js';
import { planHostFiles, recordOf } from '../hostfs/plan.js';
import { hostfsFromTree } from '../hostfs/source.js';
import { checkAssets, volumesStep } from './volumes.js';
import { assertNoSnapshotNames, infoWithVolumes } from './snapshot.js';
import { policyField, policyOf, writePolicy, type AutoUpdatePolicy } from './auto-update/policy.js';
import { HEALTH_FILE } from './health-record.js';
import { hostIds } from '../userns.js';

export interface UpdateOptions {
  name: string;
  /** --rebase IMAGE: an image in the store or a source to pull */
  rebase?: string;
  /** raw --set arguments, added to the ones given before */
  set?: string[];
  /** --pull: pull the image reference first */
  pull?: boolean;
  /** how long the new deployment must stay active (default 2 s) */
  settleMs?: number;
  /** --no-snapshot VOLUME: data volumes not to snapshot before switching */
  noSnapshot?: string[];
  /** the values are all of them (sysctr apply): earlier --set values not given are dropped */
  replaceSet?: boolean;
  /** recorded in the new deployment's info (else the live one's is kept) */
  managedBy?: 'apply';
  /** --auto-update: a new policy (docs/auto-update.md); default the live deployment's */
  autoUpdate?: AutoUpdatePolicy;
}

export interface UpdateResult {
  name: string;
  status: 'updated' | 'up-to-date' | 'reverted';
  /** NAME.N before and after */
  from: string;
  to: string;
  image: string;
  imageId: string;
  previousImage: string;
  /** the service was running and was restarted */
  restarted: boolean;
  /** reverted: why the new deployment was given up */
  reason?: string;
  /** reverted: it started, but its health check did not pass (docs/health.md) */
  unhealthy?: boolean;
  /** --dry-run: the plan was printed, nothing changed */
  dryRun?: boolean;
  /** what finishing an interrupted operation did first */
  recovered?: string;
  /** the --set values the deployment `to` is rendered with (earlier ones and this command's) */
  set?: Record<string, string>;
  /** --auto-update changed the container's policy (alone, it leaves the status up-to-date) */
  policyChanged?: boolean;
  /** the policy in force after the command */
  autoUpdate?: AutoUpdatePolicy;
}

/** Two value tables with the same keys and values (apply.ts compares declared values the same way). */
export function sameValues(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

/** The image to deploy: --rebase (pulled when missing or with --pull), else the live one's reference. */
async function targetImage(ctx: DeployContext, store: Store, info: DeploymentInfo, o: UpdateOptions): Promise<ImageRecord> {
  const noPull = (ref: string) =>
    new SysctrError(`${o.pull ? `--pull` : `image ${ref} is not in the store;`} --dry-run does not pull`, { hint: `pull it first: sysctr pull ${ref}` });
  if (ctx.dryRun && o.pull) throw noPull(o.rebase ?? info.image);
  const { pullImage } = o.pull || o.rebase ? await import('../image/pull.js') : { pullImage: undefined };
  if (o.rebase) {
    // an ambiguous short name is an error listing the candidates, never a pull from docker.io
    const rebase = o.rebase;
    const found = o.pull ? undefined : await store.read((view) => findImage(view, rebase));
    if (found) return found;
    if (ctx.dryRun) throw noPull(o.rebase);
    ctx.out(`pulling ${o.rebase}`);
    return (await pullImage!(store, o.rebase, { trust: ctx.paths.trust })).image;
  }
  const current = await store.read((view) => {
    let byName;
    try {
      byName = findImage(view, info.image);
    } catch {
      byName = undefined;
    }
    return byName ?? findImage(view, info.imageId);
  });
  if (o.pull) {
    if (!current?.source) throw new SysctrError(`${info.name}: the store does not know where ${info.image} was pulled from`, { hint: `name the source: sysctr containers update --pull --rebase SOURCE ${info.name}` });
    ctx.out(`pulling ${current.source}`);
    return (await pullImage!(store, current.source, { name: current.name, platform: current.platform, trust: ctx.paths.trust })).image;
  }
  if (!current) {
    throw new SysctrError(`${info.name}: its image ${info.image} (${info.imageId.slice(7, 19)}) is no longer in the store`, {
      hint: `pull it again, or move to another image: sysctr containers update --rebase IMAGE ${info.name}`,
    });
  }
  return current;
}

export async function update(ctx: DeployContext, o: UpdateOptions): Promise<UpdateResult> {
  const name = validateName(o.name);
  const set = parseSetArgs(o.set ?? []);
  if (!stateRootExists(ctx.paths.root)) throw new SysctrError(`${name} is not installed`, { hint: 'see sysctr containers list --all' });
  const r = await withContainersLock(ctx.paths.root, ctx.out, () => updateLocked(ctx, name, set, o));
  // a policy set or dropped: the daily timer follows (there while any container has a policy)
  if (r.policyChanged && r.status !== 'reverted') {
    const { syncTimer } = await import('./auto-update/timer.js');
    await syncTimer(ctx, { name, policy: r.autoUpdate ?? 'disabled' });
  }
  return r;
}

async function updateLocked(ctx: DeployContext, name: string, set: Record<string, string>, o: UpdateOptions): Promise<UpdateResult> {
  const t0 = performance.now();
  const timing = (what: string) => (ctx.env ?? process.env).SYSCTR_STEP_TIMES && process.stderr.write(`sysctr: update:${what} ${(performance.now() - t0).toFixed(0)} ms after the lock\n`);
  const recovered = await finishInterrupted(ctx, name); // under --dry-run: an error if there is one
  if (!ctx.dryRun) removeInBackground(ctx.paths.root, name); // an old deployment a killed update had renamed away
  const { paths } = ctx;
  const c = containerPaths(paths, name);
  const live = liveDeployment(c);
  const info = live ? readInfo(live) : undefined;
  if (!live || !info) throw new SysctrError(`${name} is not installed`, { hint: 'see sysctr containers list --all' });
  if (info.rootfs) {
    throw new SysctrError(`${name} runs an existing rootfs (${info.rootfs}), not an image: update does not apply`, {
      hint: `uninstall it and install again: sysctr uninstall ${name}`,
    });
  }
  const f = unitFilesFor(paths, name);
  assertUnitIsOurs(f, name);
  assertNoSnapshotNames(name, live, o.noSnapshot);

  const { Store } = await import('../store/store.js');
  const store = Store.open(paths.store);
  const rec = await targetImage(ctx, store, info, o);
  // pulled or not, the policy in force now decides (it may have changed since the pull)
  const { assertStoredImageTrusted } = await import('../image/trust.js');
  await assertStoredImageTrusted(rec, paths.trust);
  timing('image found');
  const mergedSet = o.replaceSet ? set : { ...info.set, ...set };
  const from = slotOf(live);
  const policy = o.autoUpdate ?? policyOf(info);
  const policyChanged = policy !== policyOf(info);
  const base = { name, from: path.basename(live), image: rec.name, imageId: rec.id, previousImage: info.image, recovered: recovered?.message, set: mergedSet, autoUpdate: policy, ...(policyChanged ? { policyChanged } : {}) };
  if (rec.id === info.imageId && sameValues(mergedSet, info.set)) {
    // only the policy: it is a field of the live info, rewritten in place (nothing to redeploy)
    if (policyChanged) {
      if (ctx.dryRun) ctx.out(`would set ${name}'s auto-update policy: ${policyOf(info)} -> ${policy}`);
      else writePolicy(live, policy);
    }
    return { ...base, status: 'up-to-date', to: path.basename(live), image: info.image, restarted: false, ...(ctx.dryRun && policyChanged ? { dryRun: true } : {}) };
  }

  // render everything before touching anything: a rendering error leaves the service alone
  const to = otherSlot(from);
  const destdir = c.deployment(to);
  const runtime = resolveRuntime(info.runtime);
  // the rollback slot's checkout is reused in place when its image is still known (recheckout.ts)
  const older = readInfo(destdir);
  const { tree, exportsFiles, config, hostEntries, olderTree } = await store.read((view) => {
    assertStillStored(view, rec, 'the update read it');
    const tree = mergedTree(view, rec);
    const objectPath = (id: string) => view.objects.path(id);
    let olderImage;
    try {
      olderImage = older && !older.rootfs ? findImage(view, older.imageId) : undefined;
    } catch {
      olderImage = undefined;
    }
    return {
      tree, exportsFiles: readTreeExports(tree, objectPath), config: imageConfig(view, rec), hostEntries: hostfsFromTree(tree, objectPath),
      olderTree: olderImage ? mergedTree(view, olderImage) : undefined,
    };
  });
  // a plain user's manager takes the unit: said before anything else (a missing /run/user/UID too)
  requireManagerFor(paths);
  const rendered = renderDeployment({
    name, destdir, exports: exportsFiles,
    image: { name: rec.name, id: rec.id, config },
    set: mergedSet, keep: { UUID: info.values.UUID }, runtime, user: paths.user,
    hostUid: hostIds().uid, hostGid: hostIds().gid, env: ctx.env,
    capabilities: managerCapabilities({ user: paths.user, uid: hostIds().uid }), rootless: rootlessRuntime(paths),
  });
  checkAssets(rendered.volumes, (p) => Boolean(tree.lookup(p)?.children));
  const noService = rendered.manifest.noContainerService === true;
  if (noService !== Boolean(info.noContainerService)) {
    throw new SysctrError(`${name}: ${rec.name} ${noService ? 'has no service (noContainerService)' : 'has a service'} and ${info.image} ${noService ? 'has one' : 'has none'}: update cannot switch between the two`, {
      hint: `uninstall ${name} and install ${rec.name} again`,
    });
  }
  const hostFiles = planHostFiles({
    entries: hostEntries,
    manifest: rendered.manifest as { renameFiles?: Record<string, string>; installedFilesTemplate?: string[] },
    manifestText: exportsFiles['manifest.json']?.toString('utf8'), values: rendered.values, hostRoot: paths.hostRoot, stateRoot: paths.root,
  });
  timing('rendered');
  for (const w of rendered.warnings) warn(ctx, `${name}: ${w}`);
  const unitText = withHeader(name, rendered.unit);
  const dropIn = renderDropIn({
    name, runtime: rendered.values.RUNTIME, unit: rendered.unit, detached: rendered.detached,
    pidfile: rendered.values.PIDFILE, runcRoot: rendered.runcRoot, stopTimeout: stopTimeoutFrom(rendered.values), stopMinUptime: stopMinUptimeFrom(rendered.values),
  });
  const systemd = new Systemd(ctx.runner, paths.user);
  const wasActive = isUp(await unitStatus(systemd, `${name}.service`));
  const j: SwitchJournal = { op: 'update', from, to, wasActive, token: newToken(), settleMs: o.settleMs ?? DEFAULT_SETTLE_MS, ...(o.noSnapshot?.length ? { noSnapshot: o.noSnapshot } : {}) };
  // the token in info is how recovery tells this deployment from an older one in the slot
  const record: DeploymentInfo & { token?: string } = infoWithVolumes({
    name, image: rec.name, imageId: rec.id, values: rendered.values, set: mergedSet, runtime: rendered.values.RUNTIME,
    created: new Date().toISOString(), detached: rendered.detached, user: paths.user, unitPath: f.unit,
    tmpfilesPath: rendered.tmpfiles ? f.tmpfiles : undefined, token: j.token, ...(noService ? { noContainerService: true } : {}), ...policyField(policy), manifestDigest: rec.manifestDigest,
    ...(rendered.healthcheck ? { healthcheck: rendered.healthcheck } : {}),
    ...(o.managedBy ?? info.managedBy ? { managedBy: o.managedBy ?? info.managedBy } : {}),
  }, rendered.volumes);

  // the directories sysctr made on the host stay on record while any deployment may have used them
  const hostRecord = recordOf(hostFiles, [...(readRecord(live)?.createdDirs ?? []), ...(readRecord(destdir)?.createdDirs ?? [])]);
  const partial = path.join(paths.root, `.${name}.${to}.partial-${process.pid}`);
  if (ctx.dryRun) {
    printUpdatePlan(ctx, { name, live, info, destdir, rec, older: older && !older.rootfs ? older : undefined, reuse: Boolean(olderTree), rendered });
    volumesStep(ctx, rendered.volumes, rendered.configJson);
    await completeSwitch(ctx, name, j, { unit: noService ? '' : unitText, dropIn: noService ? '' : dropIn, tmpfiles: rendered.tmpfiles ?? '', noService, hostFiles, healthcheck: rendered.healthcheck });
    return { ...base, status: 'updated', to: path.basename(destdir), restarted: wasActive, dryRun: true };
  }

  const steps = new StepRunner('update', ctx.env);
  // In one read of the store, like `sysctr checkout`: a delete or prune waits until the new
  // deployment's info (which keeps its image in use: in-use.ts) is in its slot.
  await store.read(async (view) => {
    assertStillStored(view, rec, 'the update was under way');
    const objectPath = (id: string) => view.objects.path(id);
    await steps.step('journal', () => writeSwitchJournal(c, j));
    await steps.step('clear-slot', () => clearSlot(paths.root, name, to, destdir, olderTree ? partial : undefined));
    await steps.step('checkout', () => {
      let reused = false;
      if (olderTree && fs.existsSync(path.join(partial, 'rootfs'))) {
        try {
          recheckout(olderTree, tree, path.join(partial, 'rootfs'), objectPath);
          reused = true;
        } catch {
          fs.rmSync(partial, { recursive: true, force: true }); // not what it should be: start afresh
        }
      }
      if (!reused) {
        fs.rmSync(partial, { recursive: true, force: true });
        fs.mkdirSync(path.join(partial, 'rootfs'), { recursive: true });
        writeTree(tree, path.join(partial, 'rootfs'), objectPath);
      }
      fs.rmSync(path.join(partial, `${name}.conf`), { force: true });
      fs.writeFileSync(path.join(partial, 'config.json'), rendered.configJson, { mode: 0o600 }); // it may hold --set secrets
      // the older deployment's health result is not the new one's (HEALTH shows starting until a check ran)
      for (const stale of [`${name}.service`, 'sysctr.conf', HEALTH_FILE]) fs.rmSync(path.join(partial, stale), { force: true });
      if (!noService) {
        fs.writeFileSync(path.join(partial, `${name}.service`), unitText);
        fs.writeFileSync(path.join(partial, 'sysctr.conf'), dropIn);
      }
      writeRecordInto(partial, hostRecord, hostFiles);
      if (rendered.tmpfiles) fs.writeFileSync(path.join(partial, `${name}.conf`), rendered.tmpfiles);
      writeAtomic(path.join(partial, 'info'), JSON.stringify(record, null, 2) + '\n', 0o600);
      fs.renameSync(partial, destdir);
    });
  });
  // a volume the new version declares is there before it starts; the old ones are kept as they are
  await steps.step('volumes', () => volumesStep(ctx, rendered.volumes, rendered.configJson));
  const outcome = await completeSwitch(ctx, name, j);
  removeInBackground(paths.root, name);
  const result = { ...base, to: path.basename(destdir), restarted: outcome.started };
  if (outcome.reverted) return { ...result, status: 'reverted', reason: outcome.reverted.reason, restarted: outcome.started, ...(outcome.reverted.unhealthy ? { unhealthy: true } : {}) };
  return { ...result, status: 'updated' };
}

/** --dry-run: what the update would deploy where; completeSwitch prints the switch after it. */
function printUpdatePlan(
  ctx: DeployContext,
  p: { name: string; live: string; info: DeploymentInfo; destdir: string; rec: ImageRecord; older?: DeploymentInfo; reuse: boolean; rendered: { values: Record<string, string>; configJson: string } },
): void {
  const { out } = ctx;
  out(`would update ${p.name}: ${path.basename(p.live)} (${p.info.image}, ${p.info.imageId.slice(7, 19)}) -> ${path.basename(p.destdir)} (${p.rec.name}, ${p.rec.id.slice(7, 19)})`);
  const keys = [...new Set([...Object.keys(p.info.values), ...Object.keys(p.rendered.values)])].sort();
  for (const k of keys) {
    const [a, b] = [p.info.values[k], p.rendered.values[k]];
    if (a !== b) out(`  ${k}: ${a === undefined ? '(none)' : JSON.stringify(a)} -> ${b === undefined ? '(none)' : JSON.stringify(b)}`);
  }
  if (p.reuse) out(`would reuse ${p.destdir}/rootfs (${p.older!.image}) in place: only what ${p.rec.name} changes in it is written`);
  else {
    if (fs.existsSync(p.destdir)) out(`would remove ${p.destdir}${p.older ? ` (${p.older.image})` : ''}`);
    out(`would check out ${p.rec.name} into ${p.destdir}/rootfs`);
  }
  describeWrite(out, `${p.destdir}/config.json`, p.rendered.configJson, readText(path.join(p.live, 'config.json')), `${path.basename(p.live)}/config.json`);
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Empties the slot the new deployment goes into, by a rename (one atomic step, so a crash never
 * leaves a half-changed deployment under its real name): to `reuseAs`, the temp dir the checkout
 * step turns into the new deployment, or away to `.NAME.N.partial-old-PID`, removed after the
 * switch by removeInBackground. Temp dirs of killed checkouts for that slot go first.
 */
function clearSlot(root: string, name: string, slot: 0 | 1, destdir: string, reuseAs?: string): void {
  for (const e of fs.readdirSync(root)) {
    if (e.startsWith(`.${name}.${slot}.partial-`) && !e.startsWith(`.${name}.${slot}.partial-old-`)) fs.rmSync(path.join(root, e), { recursive: true, force: true });
  }
  if (fs.existsSync(destdir)) fs.renameSync(destdir, reuseAs ?? path.join(root, `.${name}.${slot}.partial-old-${process.pid}`));
}

/** --all: every installed container, one result (or error) each. */
export async function updateAll(
  ctx: DeployContext,
  o: Omit<UpdateOptions, 'name' | 'rebase'>,
  report: (name: string, r: UpdateResult | Error) => void,
): Promise<number> {
  const names = installedNames(ctx.paths.root);
  let failed = 0;
  for (const name of names) {
    try {
      const r = await update(ctx, { ...o, name });
      if (r.status === 'reverted') failed++;
      report(name, r);
    } catch (err) {
      if (!(err instanceof SysctrError)) throw err;
      failed++;
      report(name, err);
    }
  }
  return failed;
}

export function assertUpdateArgs(o: { all?: boolean; name?: string; rebase?: string }): void {
  if (o.all && o.name) throw usageError('give a container NAME or --all, not both');
  if (!o.all && !o.name) throw usageError('name the container to update, or give --all');
  if (o.all && o.rebase) throw usageError('--rebase names one image: it cannot be used with --all', 'update one container at a time with --rebase');
}

/**
 * install (docs/design.md, journaled steps): pull if missing → render and check everything (nothing written yet) →
 * journal → check out NAME.0 (into a temp dir, renamed when complete) → unit, drop-in, tmpfiles
 * conf → host files (/exports/hostfs) → info → ROOT/NAME symlink → daemon-reload → tmpfiles --create →
 * enable (→ start). An image whose manifest says noContainerService gets its host files and
 * tmpfiles conf, and no unit.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SysctrError, usageError } from '../errors.js';
import type { ImageConfig } from '../image/types.js';
import { writeTree } from '../rootfs/checkout.js';
import type { MergedTree } from '../rootfs/tree.js';
import { resolveRuntime } from '../runtime/check.js';
import { renderDropIn, stopMinUptimeFrom, stopTimeoutFrom } from '../systemd/dropin.js';
import { foreignFiles, unitFilesFor, unitOwner, withHeader, writeAtomic, writeUnitFiles, type UnitFiles } from '../systemd/files.js';
import { Systemd } from '../systemd/systemctl.js';
import { assertStillStored, findImage, imageConfig } from '../image/find.js';
import { mergedTree } from '../rootfs/merged.js';
import type { ReadView, Store } from '../store/store.js';
import type { ImageRecord } from '../store/types.js';
import { warn, type DeployContext } from './context.js';
import { managerCapabilities } from '../runtime/manager-caps.js';
import { nameFromImage, validateName } from './names.js';
import { applyHostFiles, checkForeign, writeRecordInto } from './hostfs-apply.js';
import { planHostFiles, recordOf, type HostfsSourceEntry, type PlannedHostEntry } from '../hostfs/plan.js';
import { hostfsFromDir, hostfsFromTree } from '../hostfs/source.js';
import { readExportsDir, readTreeExports, type ExportsFiles } from '../rootfs/exports.js';
import { renderDeployment, type Rendered } from './render.js';
import { containerPaths, liveDeployment, readInfo, readJournal, tmpfilesCopies, withContainersLock, writeJournal, type ContainerPaths, type DeploymentInfo } from './state.js';
import { StepRunner } from './steps.js';
import { DEFAULT_SETTLE_MS, linkAtomic, settle } from './switch.js';
import { uninstallUnlocked } from './uninstall.js';
import { parseSetArgs } from '../template/values.js';
import { checkAssets, volumesStep } from './volumes.js';
import { infoWithVolumes } from './snapshot.js';
import { policyField, policyOf, type AutoUpdatePolicy } from './auto-update/policy.js';

export interface InstallOptions {
  /** image reference in the store, or a pull source (oci:DIR:TAG, docker://..., ...) */
  image: string;
  name?: string;
  /** raw --set arguments */
  set?: string[];
  /** run an existing rootfs instead of a checkout */
  rootfs?: string;
  runtime?: string;
  now?: boolean;
  /** with now: milliseconds the service must stay active after its start (default 2 s; 0: do not wait) */
  settleMs?: number;
  /** take over host files that exist and are not sysctr's */
  force?: boolean;
  /** recorded in the deployment info: who installed it (sysctr apply) */
  managedBy?: 'apply';
  /** --auto-update: what sysctr auto-update follows (docs/auto-update.md) */
  autoUpdate?: AutoUpdatePolicy;
}

export interface InstallResult {
  name: string;
  status: 'installed' | 'already-installed';
  deployment: string;
  image: string;
  imageId: string;
  /** every variable's final value in the live deployment */
  values?: Record<string, string>;
  /** --dry-run: nothing was changed */
  dryRun?: boolean;
  /** the container's auto-update policy */
  autoUpdate?: AutoUpdatePolicy;
}

/** Checks --rootfs DIR: a directory with something in it. */
export function checkRootfsDir(dir: string): string {
  const abs = path.resolve(dir);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch {
    throw new SysctrError(`--rootfs ${dir}: no such directory`, { hint: 'give the path of an unpacked root filesystem (e.g. from sysctr checkout)' });
  }
  if (!st.isDirectory()) throw new SysctrError(`--rootfs ${dir}: not a directory`, { hint: 'give the path of an unpacked root filesystem' });
  if (fs.readdirSync(abs).length === 0) throw new SysctrError(`--rootfs ${dir}: the directory is empty, there is no rootfs in it`, { hint: 'give the path of an unpacked root filesystem' });
  return abs;
}

/** What install reads from the store, in one read: the image's tree, exports, config, host files. */
interface Loaded {
  rec: ImageRecord;
  tree?: MergedTree;
  exportsFiles: ExportsFiles;
  config: ImageConfig;
  hostEntries: HostfsSourceEntry[];
}

function load(view: ReadView, rec: ImageRecord, rootfs: string | undefined): Loaded {
  const config = imageConfig(view, rec);
  if (rootfs) return { rec, config, exportsFiles: readExportsDir(path.join(rootfs, 'exports')), hostEntries: hostfsFromDir(rootfs) };
  const tree = mergedTree(view, rec);
  const objectPath = (id: string) => view.objects.path(id);
  return { rec, tree, config, exportsFiles: readTreeExports(tree, objectPath), hostEntries: hostfsFromTree(tree, objectPath) };
}

export async function install(ctx: DeployContext, o: InstallOptions): Promise<InstallResult> {
  const { paths, out } = ctx;
  // cheap checks first: nothing is read or written if the command line is wrong
  const set = parseSetArgs(o.set ?? []);
  if (o.name !== undefined) validateName(o.name);
  const runtime = resolveRuntime(o.runtime);
  const rootfs = o.rootfs !== undefined ? checkRootfsDir(o.rootfs) : undefined;
  if (rootfs && o.autoUpdate && o.autoUpdate !== 'disabled') throw usageError('--auto-update follows an image: it cannot be used with --rootfs');

  const { Store } = await import('../store/store.js');
  const store = Store.open(paths.store);
  let t0 = 0;
  const timing = (what: string) => (ctx.env ?? process.env).SYSCTR_STEP_TIMES && process.stderr.write(`sysctr: install:${what} ${(performance.now() - t0).toFixed(0)} ms after the image was found\n`);
  // Found (or pulled) and read in one read of the store, with the cheap checks in between.
  const early = (view: ReadView, rec: ImageRecord): Loaded | InstallResult => {
    t0 = performance.now();
    const name = validateName(o.name ?? nameFromImage(rec.name));
    const c = containerPaths(paths, name);
    assertSystemdFilesOurs(paths, c, unitFilesFor(paths, name), name, Boolean(o.force));
    return alreadyInstalled(c, rec, o.image, name, set, out, o.autoUpdate) ?? load(view, rec, rootfs);
  };
  let got = await store.read((view) => {
    const found = findImage(view, o.image);
    return found && early(view, found);
  });
  if (!got) {
    if (ctx.dryRun) throw new SysctrError(`image ${o.image} is not in the store; --dry-run does not pull`, { hint: `pull it first: sysctr pull ${o.image}` });
    out(`pulling ${o.image}`);
    const { pullImage } = await import('../image/pull.js');
    const { image } = await pullImage(store, o.image, { trust: paths.trust, registriesConf: paths.registriesConf });
    got = await store.read((view) => {
      assertStillStored(view, image, 'it was being installed');
      return early(view, image);
    });
  } else if (!('status' in got)) {
    // the policy may have changed since the pull: the one in force now decides
    const { assertStoredImageTrusted } = await import('../image/trust.js');
    await assertStoredImageTrusted(got.rec, paths.trust);
  }
  if ('status' in got) return got;
  const { rec, tree, exportsFiles, config, hostEntries } = got;
  const name = validateName(o.name ?? nameFromImage(rec.name));
  const c = containerPaths(paths, name);
  const f = unitFilesFor(paths, name);

  // render everything before touching the host
  const destdir = c.deployment(0);
  const rendered = renderDeployment({
    name, destdir, exports: exportsFiles, image: { name: rec.name, id: rec.id, config },
    set, runtime, user: paths.user, hostUid: process.getuid?.() ?? 0, hostGid: process.getgid?.() ?? 0, env: ctx.env,
    capabilities: managerCapabilities({ user: paths.user, uid: process.getuid?.() ?? 0 }), rootfs,
  });
  assertReadOnly(rendered);
  checkAssets(rendered.volumes, (p) => (rootfs ? fs.existsSync(path.join(rootfs, p)) : Boolean(tree!.lookup(p)?.children)));
  for (const w of rendered.warnings) warn(ctx, w);
  // runc refuses a symlinked rootfs: with --rootfs the bundle points at DIR itself
  const configJson = rootfs ? withRootPath(rendered.configJson, rootfs) : rendered.configJson;
  timing('rendered');
  const unitText = withHeader(name, rendered.unit);
  const dropIn = renderDropIn({
    name, runtime: rendered.values.RUNTIME, unit: rendered.unit, detached: rendered.detached,
    pidfile: rendered.values.PIDFILE, stopTimeout: stopTimeoutFrom(rendered.values), stopMinUptime: stopMinUptimeFrom(rendered.values),
  });
  const hostFiles = planHostFiles({
    entries: hostEntries,
    manifest: rendered.manifest as { renameFiles?: Record<string, string>; installedFilesTemplate?: string[] },
    manifestText: exportsFiles['manifest.json']?.toString('utf8'), values: rendered.values, hostRoot: paths.hostRoot, stateRoot: paths.root,
  });
  const takeover = checkForeign(paths, name, hostFiles, Boolean(o.force));
  const noService = rendered.manifest.noContainerService === true;
  const plan: Plan = { name, destdir, rendered, configJson, unitText, dropIn, f, link: c.link, rootfs, set, hostFiles, noService, takeover };
  if (ctx.dryRun) {
    printPlan(ctx, plan);
    return apply(ctx, o, plan, store, rec, tree);
  }
  return withContainersLock(paths.root, out, async () => {
    // the same checks again, now that no other sysctr command can change things
    assertSystemdFilesOurs(paths, c, f, name, Boolean(o.force));
    const raced = alreadyInstalled(c, rec, o.image, name, set, out, o.autoUpdate);
    if (raced) return raced;
    let journal = readJournal(c);
    if (journal && !INSTALL_OPS.has(journal.op)) {
      // an interrupted update or rollback of an installed container: finish that, do not reinstall
      const { finishInterrupted } = await import('./recover.js');
      await finishInterrupted(ctx, name, { installs: false });
      journal = readJournal(c);
      if (journal) throw new SysctrError(`${name}: an interrupted ${journal.op} could not be finished`, { hint: `see ${c.journal}` });
      const done = alreadyInstalled(c, rec, o.image, name, set, out, o.autoUpdate);
      if (done) return done;
    }
    if (journal || liveDeployment(c) || fs.existsSync(destdir) || unitOwner(f) === 'sysctr') {
      out(`${name}: finishing a half-done ${journal?.op ?? 'install'} first (removing what it left)`);
      await uninstallUnlocked({ ...ctx, out: () => {} }, name);
    }
    // again, now that what a half-done install left is gone
    plan.takeover = checkForeign(paths, name, hostFiles, Boolean(o.force));
    return apply(ctx, o, plan, store, rec, tree);
  });
}

/**
 * A unit, drop-in or tmpfiles conf of this name that sysctr did not write, in its dirs or anywhere
 * else systemd looks (a vendor's unit it would shadow), stops the install, named; --force takes
 * them over (sysctr's files then shadow or replace them, and its uninstall removes its own).
 */
function assertSystemdFilesOurs(paths: DeployContext['paths'], c: ContainerPaths, f: UnitFiles, name: string, force: boolean): void {
  const foreign = foreignFiles(f, name, { user: paths.user, copies: tmpfilesCopies(c, name) });
  if (!foreign.length || force) return;
  const more = foreign.length > 1 ? ` (and ${foreign.slice(1).join(', ')})` : '';
  throw new SysctrError(`${foreign[0]} already exists and was not written by sysctr${more}`, {
    hint: `a container named ${name} would replace or shadow it: choose another name with --name, or install with --force to take it over`,
  });
}

/** journals whose leftovers install removes before starting again */
const INSTALL_OPS = new Set(['install', 'uninstall']);

/** "already installed" (same image) or an error (another image); undefined when not installed. */
function alreadyInstalled(c: ContainerPaths, rec: ImageRecord, ref: string, name: string, set: Record<string, string>, out: (l: string) => void, policy?: AutoUpdatePolicy): InstallResult | undefined {
  const live = liveDeployment(c);
  const info = live ? readInfo(live) : undefined;
  // with a journal, the locked path decides (finish an update, or remove a half install)
  if (!info || readJournal(c)) return undefined;
  if (info.imageId === rec.id) {
    // "already installed" must mean "as asked": a --set that differs would otherwise be dropped unsaid
    const differs = Object.keys(set).filter((k) => info.values[k] !== set[k]);
    if (differs.length) {
      throw new SysctrError(`${name} is already installed from ${info.image} with other values (${differs.map((k) => `${k}=${info.values[k] ?? ''}`).join(', ')})`, {
        hint: `to change them: sysctr containers update ${differs.map((k) => `--set ${k}=${set[k]}`).join(' ')} ${name}`,
      });
    }
    // and the policy, when one is given: the same rule as the values
    if (policy && policyOf(info) !== policy) {
      throw new SysctrError(`${name} is already installed from ${info.image} with --auto-update=${policyOf(info)}`, {
        hint: `to change it: sysctr containers update --auto-update=${policy} ${name}`,
      });
    }
    out(`${name} is already installed from ${info.image}`);
    return { name, status: 'already-installed', deployment: live!, image: info.image, imageId: info.imageId, values: info.values, autoUpdate: policyOf(info) };
  }
  throw new SysctrError(`${name} is already installed from another image (${info.image}, ${info.imageId.slice(7, 19)})`, {
    hint: `to move it to ${rec.name}: sysctr containers update --rebase ${ref} ${name}; or choose another --name`,
  });
}

/** The steps, from the journal to the start; each a no-op print under --dry-run. */
async function apply(ctx: DeployContext, o: InstallOptions, p: Plan, store: Store, rec: ImageRecord, tree: MergedTree | undefined): Promise<InstallResult> {
  const { paths } = ctx;
  const { name, destdir, rendered, configJson, unitText, dropIn, f, rootfs, set, hostFiles, noService } = p;
  const c = containerPaths(paths, name);
  const systemd = new Systemd(ctx.runner, paths.user);
  const steps = new StepRunner('install', ctx.env);
  const write = (fn: () => void) => (ctx.dryRun ? undefined : fn());
  const unit = `${name}.service`;

  // The journal names the image, so from the moment it is written a delete or prune (which ask
  // lib/deploy/in-use.ts inside their write) counts the image as in use; it is written and the
  // tree checked out in one read of the store, which no delete or prune overlaps.
  const inStore = <T>(fn: (objectPath?: (id: string) => string) => Promise<T>): Promise<T> =>
    rootfs || ctx.dryRun
      ? fn()
      : store.read((view) => {
          assertStillStored(view, rec, 'it was being installed');
          return fn((id) => view.objects.path(id));
        });
  await inStore(async (objectPath) => {
    await steps.step('journal', () => write(() => writeJournal(c, { op: 'install', image: rec.name, imageId: rec.id })));
    await steps.step('checkout', () =>
      write(() => {
        const partial = path.join(paths.root, `.${name}.0.partial-${process.pid}`);
        fs.rmSync(partial, { recursive: true, force: true });
        fs.mkdirSync(partial, { recursive: true });
        if (!rootfs) {
          fs.mkdirSync(path.join(partial, 'rootfs'));
          writeTree(tree!, path.join(partial, 'rootfs'), objectPath!);
        }
        fs.writeFileSync(path.join(partial, 'config.json'), configJson, { mode: 0o600 }); // it may hold --set secrets
        // the host files' record is in the deployment before any of them is written
        writeRecordInto(partial, recordOf(hostFiles), hostFiles);
        fs.renameSync(partial, destdir);
      }),
    );
  });
  // data volumes (volumes.ts): made when missing, an existing one (kept by an uninstall) left as it is
  await steps.step('volumes', () => volumesStep(ctx, rendered.volumes, configJson));
  await steps.step('host-files', () => {
    if (hostFiles.length) applyHostFiles(ctx, { to: hostFiles, from: [], load: (e) => (e as PlannedHostEntry).content!, recordDir: destdir, force: p.takeover });
  });
  await steps.step('unit-files', () =>
    write(() => {
      // the deployment's copies first: a host file sysctr wrote always has one, so the next
      // command knows it for sysctr's even when this one is killed right after writing it
      if (!noService) {
        fs.writeFileSync(path.join(destdir, unit), unitText);
        fs.writeFileSync(path.join(destdir, 'sysctr.conf'), dropIn);
      }
      if (rendered.tmpfiles) fs.writeFileSync(path.join(destdir, `${name}.conf`), rendered.tmpfiles);
      if (!noService) writeUnitFiles(f, { unit: unitText, dropIn, tmpfiles: rendered.tmpfiles });
      else if (rendered.tmpfiles) writeAtomic(f.tmpfiles, rendered.tmpfiles);
    }),
  );
  await steps.step('info', () =>
    write(() => {
      const record: DeploymentInfo = infoWithVolumes({
        name, image: rec.name, imageId: rec.id, values: rendered.values, set, runtime: rendered.values.RUNTIME,
        created: new Date().toISOString(), detached: rendered.detached, user: paths.user, rootfs,
        unitPath: f.unit, tmpfilesPath: rendered.tmpfiles ? f.tmpfiles : undefined,
        ...(noService ? { noContainerService: true } : {}), ...(o.managedBy ? { managedBy: o.managedBy } : {}), ...policyField(o.autoUpdate),
        ...(rendered.healthcheck ? { healthcheck: rendered.healthcheck } : {}),
      }, rendered.volumes);
      writeAtomic(path.join(destdir, 'info'), JSON.stringify(record, null, 2) + '\n', 0o600);
    }),
  );
  await steps.step('symlink', () => write(() => linkAtomic(path.basename(destdir), c.link)));
  await steps.step('daemon-reload', async () => {
    if (!noService) await systemd.daemonReload();
  });
  await steps.step('tmpfiles', async () => {
    if (rendered.tmpfiles) await systemd.tmpfilesCreate(f.tmpfiles);
  });
  await steps.step('enable', async () => {
    if (!noService) await systemd.enable(unit);
  });
  // a service that does not start is still installed: finish, then say so
  let startError: unknown;
  await steps.step('start', async () => {
    if (o.now && noService) ctx.out(`${name}: the image has no service (noContainerService): nothing to start`);
    else if (o.now) await systemd.start(unit).catch((err) => (startError = err));
  });
  await steps.step('finish', () => write(() => fs.rmSync(c.journal, { force: true })));
  // the first container with a policy brings the daily timer (its failure is a warning: installed is installed)
  if (o.autoUpdate && o.autoUpdate !== 'disabled') {
    const { syncTimer } = await import('./auto-update/timer.js');
    await syncTimer(ctx, { name, policy: o.autoUpdate });
  }
  if (startError) {
    throw new SysctrError(`installed ${name}, but it did not start: ${(startError as Error).message}`, {
      hint: `see: journalctl -u ${unit}; fix it and run sysctr start ${name}, or sysctr uninstall ${name}`,
    });
  }
  // `systemctl start` of a simple service returns once the process is forked: a service that exits
  // at once would read as started. The install is complete either way; only the report differs.
  const settleMs = o.settleMs ?? DEFAULT_SETTLE_MS;
  if (o.now && !noService && !ctx.dryRun && settleMs > 0) {
    const failure = await settle(systemd, unit, settleMs);
    if (failure) {
      throw new SysctrError(`installed ${name}, but it did not stay up: ${failure}`, {
        hint: `see: journalctl -u ${unit}; fix it and run sysctr start ${name}, or sysctr uninstall ${name}`,
      });
    }
  }
  return { name, status: 'installed', deployment: destdir, image: rec.name, imageId: rec.id, values: rendered.values, autoUpdate: o.autoUpdate ?? 'disabled', ...(ctx.dryRun ? { dryRun: true } : {}) };
}

/** Render checks this too; install refuses to write a deployment that would run writable. */
function assertReadOnly(r: Rendered): void {
  let cfg: { root?: { readonly?: unknown } };
  try {
    cfg = JSON.parse(r.configJson);
  } catch (err) {
    throw new SysctrError(`config.json: not valid JSON after rendering: ${(err as Error).message}`);
  }
  if (cfg.root?.readonly !== true) throw new SysctrError('config.json: root.readonly must be true', { hint: 'set "readonly": true in config.json.template' });
}

function withRootPath(configJson: string, rootfs: string): string {
  const cfg = JSON.parse(configJson) as { root: { path: string } };
  cfg.root.path = rootfs;
  return JSON.stringify(cfg, null, 2) + '\n';
}

interface Plan {
  name: string;
  /** the --set values, for info */
  set: Record<string, string>;
  destdir: string;
  rendered: Rendered;
  configJson: string;
  unitText: string;
  dropIn: string;
  f: ReturnType<typeof unitFilesFor>;
  link: string;
  rootfs?: string;
  hostFiles: PlannedHostEntry[];
  /** host files that exist and are taken over (--force) */
  takeover?: Set<string>;
  /** manifest.json noContainerService: no unit */
  noService: boolean;
}

function printPlan(ctx: DeployContext, p: Plan): void {
  const file = (where: string, text: string) => ctx.out(`would write ${where}:\n${text.replace(/\n?$/, '\n')}`);
  ctx.out(p.rootfs ? `would run the existing rootfs ${p.rootfs} (root.path in config.json)` : `would check out the image into ${p.destdir}/rootfs`);
  file(`${p.destdir}/config.json`, p.configJson);
  if (p.noService) ctx.out('would write no unit: the image has no service (noContainerService)');
  else {
    file(p.f.unit, p.unitText);
    file(p.f.dropIn, p.dropIn);
  }
  if (p.rendered.tmpfiles) file(p.f.tmpfiles, p.rendered.tmpfiles);
  ctx.out(`would write ${p.destdir}/info and link ${p.link} -> ${path.basename(p.destdir)}`);
}


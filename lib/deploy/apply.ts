/**
 * sysctr apply (docs/apply.md): make the installed containers what a directory of declarations
 * says. Every file is read and checked first (apply-file.ts: one bad file and nothing is done); then
 * every image is pulled; then each container is installed, updated or left alone, one after the
 * other, a failure of one not stopping the others; with prune, containers that apply installed and
 * that no file declares any more are uninstalled. Containers installed by hand are never removed:
 * only a deployment whose info says managedBy "apply" is apply's to remove.
 */
import { SysctrError } from '../errors.js';
import type { Store } from '../store/store.js';
import type { ImageRecord } from '../store/types.js';
import { Systemd } from '../systemd/systemctl.js';
import { readDeclarations, type Declared } from './apply-file.js';
import type { DeployContext } from './context.js';
import { policyOf } from './auto-update/policy.js';
import { install } from './install.js';
import { containerPaths, installedNames, liveDeployment, readInfo, type DeploymentInfo } from './state.js';
import { uninstall } from './uninstall.js';
import { sameValues, update } from './update.js';

export type ApplyStatus = 'installed' | 'updated' | 'unchanged' | 'removed' | 'failed';

export interface ApplyItem {
  name: string;
  status: ApplyStatus;
  /** the declaration file (absent for a pruned container) */
  file?: string;
  /** the image as the store names it, and its id, after apply */
  image?: string;
  imageId?: string;
  /** updated: what was deployed before */
  previousImage?: string;
  previousImageId?: string;
  /** dry run: the image is not in the store yet and would be pulled first */
  wouldPull?: boolean;
  /** the auto-update policy, when apply changed it */
  autoUpdate?: string;
  /** `systemctl is-enabled` changed to this */
  enablement?: 'enabled' | 'disabled';
  /** failed: why */
  error?: string;
  hint?: string;
}

export interface ApplyResult {
  changed: boolean;
  dryRun: boolean;
  /** the file or directory read */
  source: string;
  containers: ApplyItem[];
  failed: number;
}

export interface ApplyOptions {
  /** a directory of declarations, or one file */
  target: string;
  prune?: boolean;
  /** how long a new or updated service must stay active (default 2 s) */
  settleMs?: number;
}

const toSetArgs = (values: Record<string, string> | undefined) => Object.entries(values ?? {}).map(([k, v]) => `${k}=${v}`);

function failure(d: { name: string; file?: string }, err: unknown): ApplyItem {
  if (!(err instanceof SysctrError)) throw err; // a bug: not to be reported as one container's failure
  return { name: d.name, file: d.file, status: 'failed', error: err.message, ...(err.hint ? { hint: err.hint } : {}) };
}

/** The image a declaration names, in the store; or under dry run, one a pull would bring (not stored). */
interface Resolved {
  rec?: ImageRecord;
  wouldPull?: ImageRecord;
}

/**
 * Pulls the image a declaration names (what `sysctr pull` does: a tag that did not change fetches
 * no layer). A dry run asks the source too, and stores nothing.
 */
async function resolveImage(ctx: DeployContext, store: Store, d: Declared): Promise<Resolved> {
  const { pullImage } = await import('../image/pull.js');
  if (!ctx.dryRun) ctx.out(`${d.name}: pulling ${d.image}`);
  const r = await pullImage(store, d.image, { trust: ctx.paths.trust, registriesConf: ctx.paths.registriesConf, dryRun: ctx.dryRun });
  return r.dryRun ? { wouldPull: r.image } : { rec: r.image };
}

function liveInfo(ctx: DeployContext, name: string): DeploymentInfo | undefined {
  const live = liveDeployment(containerPaths(ctx.paths, name));
  return live ? readInfo(live) : undefined;
}

/** Installs, updates or leaves one declared container. */
async function applyOne(ctx: DeployContext, d: Declared, { rec, wouldPull }: Resolved, settleMs: number | undefined): Promise<ApplyItem> {
  const info = liveInfo(ctx, d.name);
  const values = d.values ?? {};
  // declared state: no autoUpdate in the file is the policy disabled, as a value not given is dropped
  const autoUpdate = d.autoUpdate ?? 'disabled';
  const base = { name: d.name, file: d.file };
  const pending = wouldPull && { image: wouldPull.name, imageId: wouldPull.id, wouldPull: true };
  if (!info) {
    if (!rec) return { ...base, status: 'installed', ...pending };
    const r = await install(ctx, {
      image: rec.name, name: d.name, set: toSetArgs(values), runtime: d.runtime, now: d.now, settleMs, force: d.force,
      managedBy: 'apply', autoUpdate,
    });
    return { ...base, status: r.status === 'installed' ? 'installed' : 'unchanged', image: r.image, imageId: r.imageId };
  }
  const previous = { previousImage: info.image, previousImageId: info.imageId };
  const samePolicy = policyOf(info) === autoUpdate;
  if (!rec) {
    const same = wouldPull!.id === info.imageId && sameValues(values, info.set) && samePolicy;
    return same ? { ...base, status: 'unchanged', image: info.image, imageId: info.imageId } : { ...base, status: 'updated', ...pending, ...previous };
  }
  if (info.imageId === rec.id && sameValues(values, info.set) && samePolicy) return { ...base, status: 'unchanged', image: info.image, imageId: info.imageId };
  // the policy alone: update rewrites it in the live info, nothing is redeployed
  const r = await update(ctx, {
    name: d.name, rebase: rec.name, set: toSetArgs(values), replaceSet: true, settleMs, noSnapshot: d.volumes?.noSnapshot,
    managedBy: 'apply', autoUpdate,
  });
  if (r.status === 'reverted') {
    return { ...base, status: 'failed', image: r.image, imageId: r.imageId, ...previous, error: `the new deployment ${r.to} did not start (${r.reason}); rolled back to ${r.from}` };
  }
  const changed = r.status === 'updated' || Boolean(r.policyChanged);
  return { ...base, status: changed ? 'updated' : 'unchanged', image: r.image, imageId: r.imageId, ...(r.status === 'updated' ? previous : {}), ...(r.policyChanged ? { autoUpdate } : {}) };
}

/** `enabled` in a declaration: the unit's enablement made so (default: enabled, as install leaves it). */
async function applyEnablement(ctx: DeployContext, d: Declared, item: ApplyItem): Promise<ApplyItem> {
  if (item.status === 'failed') return item;
  const wanted = d.enabled === false ? 'disabled' : 'enabled';
  // a dry run installed nothing: the unit would be enabled, as install leaves it
  if (ctx.dryRun && item.status === 'installed') return wanted === 'disabled' ? { ...item, enablement: wanted } : item;
  const info = liveInfo(ctx, d.name);
  if (!info || info.noContainerService) return item;
  const systemd = new Systemd(ctx.runner, ctx.paths.user);
  const unit = `${d.name}.service`;
  const now = await systemd.enablement(unit);
  if (now === wanted || (now !== 'enabled' && now !== 'disabled')) return item;
  if (wanted === 'enabled') await systemd.enable(unit);
  else await systemd.disable(unit);
  return { ...item, status: item.status === 'unchanged' ? 'updated' : item.status, enablement: wanted };
}

export async function apply(ctx: DeployContext, o: ApplyOptions): Promise<ApplyResult> {
  const declared = await readDeclarations(o.target);
  const { Store } = await import('../store/store.js');
  const store = Store.open(ctx.paths.store);

  // every pull first: a registry that fails part-way leaves the deployments as they were
  const images = new Map<string, Resolved>();
  const items = new Map<string, ApplyItem>();
  for (const d of declared) {
    try {
      images.set(d.name, await resolveImage(ctx, store, d));
    } catch (err) {
      items.set(d.name, failure(d, err));
    }
  }
  for (const d of declared) {
    if (items.has(d.name)) continue;
    try {
      items.set(d.name, await applyEnablement(ctx, d, await applyOne(ctx, d, images.get(d.name)!, o.settleMs)));
    } catch (err) {
      items.set(d.name, failure(d, err));
    }
  }
  const containers = declared.map((d) => items.get(d.name)!);
  if (o.prune) containers.push(...(await prune(ctx, new Set(declared.map((d) => d.name)))));
  const failed = containers.filter((c) => c.status === 'failed').length;
  return { changed: containers.some((c) => c.status !== 'unchanged' && c.status !== 'failed'), dryRun: ctx.dryRun, source: o.target, containers, failed };
}

/** Uninstalls what apply installed and no file declares now; a container installed by hand stays. */
async function prune(ctx: DeployContext, declared: Set<string>): Promise<ApplyItem[]> {
  const out: ApplyItem[] = [];
  for (const name of installedNames(ctx.paths.root)) {
    if (declared.has(name)) continue;
    const info = liveInfo(ctx, name);
    if (info?.managedBy !== 'apply') continue;
    try {
      await uninstall(ctx, name);
      out.push({ name, status: 'removed', image: info.image, imageId: info.imageId });
    } catch (err) {
      out.push(failure({ name }, err));
    }
  }
  return out;
}

/**
 * sysctr auto-update (docs/auto-update.md): every container with a policy, one after the other;
 * what changed is pulled and deployed by update.ts, which asks the trust policy, restarts the
 * service and rolls back by itself. One container's failure is its own line in the report.
 */
import { SysctrError } from '../../errors.js';
import type { SourceOptions } from '../../image/source.js';
import type { ImageRecord } from '../../store/types.js';
import type { DeployContext } from '../context.js';
import { validateName } from '../names.js';
import { containerPaths, installedNames, liveDeployment, readInfo, type DeploymentInfo } from '../state.js';
import { policyOf, type AutoUpdatePolicy } from './policy.js';

export type AutoUpdateStatus = 'up-to-date' | 'updated' | 'would-update' | 'rolled-back' | 'failed' | 'skipped';

export interface AutoUpdateItem {
  name: string;
  policy: AutoUpdatePolicy;
  image: string;
  status: AutoUpdateStatus;
  changed: boolean;
  oldDigest?: string;
  oldImageId?: string;
  newDigest?: string;
  newImageId?: string;
  from?: string;
  to?: string;
  reason?: string;
  error?: string;
  hint?: string;
}

export interface AutoUpdateReport {
  changed: boolean;
  dryRun?: boolean;
  containers: AutoUpdateItem[];
}

export interface AutoUpdateOptions {
  /** only these containers (default: every one with a policy) */
  names?: string[];
  /** how registries are reached (credentials, TLS, timeout), as pull takes them */
  source?: Omit<SourceOptions, 'registriesConf'>;
  /** how long an updated deployment must stay active (update.ts's settle) */
  settleMs?: number;
  /** told about each container as soon as its result is known */
  onItem?: (item: AutoUpdateItem) => void;
}

/** Not an error of the container: the report says why and goes on. */
class Skip extends Error {}

export async function autoUpdate(ctx: DeployContext, o: AutoUpdateOptions = {}): Promise<AutoUpdateReport> {
  const named = o.names?.length ? [...new Set(o.names.map((n) => validateName(n)))] : undefined;
  const containers: AutoUpdateItem[] = [];
  for (const name of named ?? installedNames(ctx.paths.root)) {
    const live = liveDeployment(containerPaths(ctx.paths, name));
    const info = live ? readInfo(live) : undefined;
    let item: AutoUpdateItem;
    if (!info) {
      item = { name, policy: 'disabled', image: '', status: 'failed', changed: false, error: `${name} is not installed`, hint: 'see sysctr containers list' };
    } else if (policyOf(info) === 'disabled') {
      if (!named) continue;
      item = { name, policy: 'disabled', image: info.image, status: 'skipped', changed: false, reason: 'no auto-update policy', oldImageId: info.imageId };
    } else {
      item = await one(ctx, name, info, o);
    }
    containers.push(item);
    o.onItem?.(item);
  }
  const changed = containers.some((c) => c.changed);
  return { changed, ...(ctx.dryRun ? { dryRun: true } : {}), containers };
}

async function one(ctx: DeployContext, name: string, info: DeploymentInfo, o: AutoUpdateOptions): Promise<AutoUpdateItem> {
  const policy = policyOf(info);
  const base = { name, policy, image: info.image, oldImageId: info.imageId };
  try {
    if (info.rootfs) throw new Skip(`runs an existing rootfs (${info.rootfs}), not an image`);
    const { Store } = await import('../../store/store.js');
    const store = Store.open(ctx.paths.store);
    // what the deployment runs (by its name when that still names it) and what its name names now
    const { running, current } = await store.read((view) => {
      const byName = view.images.get(info.image);
      return { running: byName?.id === info.imageId ? byName : view.images.withId(info.imageId)[0], current: byName };
    });
    const old = { ...base, ...(running ? { oldDigest: running.manifestDigest } : {}) };
    const found = policy === 'registry' ? await fromRegistry(ctx, info, running, current, o) : fromStore(info, current);
    if (found.upToDate) return { ...old, status: 'up-to-date', changed: false, newDigest: old.oldDigest, newImageId: info.imageId };
    if (ctx.dryRun) return { ...old, status: 'would-update', changed: true, ...found.next };
    let next = found.next;
    if (found.pull) {
      const { pullImage } = await import('../../image/pull.js');
      ctx.out(`${name}: pulling ${found.pull}`);
      const pulled = await pullImage(store, found.pull, { ...o.source, name: info.image, trust: ctx.paths.trust, registriesConf: ctx.paths.registriesConf });
      next = { newDigest: pulled.image.manifestDigest, newImageId: pulled.image.id };
    }
    const { update } = await import('../update.js');
    const r = await update(ctx, { name, settleMs: o.settleMs });
    const moved = { ...old, ...next, from: r.from, to: r.to };
    if (r.status === 'up-to-date') return { ...old, status: 'up-to-date', changed: false, newDigest: next.newDigest, newImageId: r.imageId };
    if (r.status === 'reverted') return { ...moved, status: 'rolled-back', changed: true, reason: r.reason };
    return { ...moved, status: 'updated', changed: true, newImageId: r.imageId };
  } catch (err) {
    if (err instanceof Skip) return { ...base, status: 'skipped', changed: false, reason: err.message };
    if (err instanceof SysctrError) return { ...base, status: 'failed', changed: false, error: err.message, ...(err.hint ? { hint: err.hint } : {}) };
    throw err;
  }
}

interface Found {
  upToDate: boolean;
  next: { newDigest?: string; newImageId?: string };
  /** the source to pull before updating */
  pull?: string;
}

/** registry: the tag's manifest digest for this host, against the manifest the deployment runs. */
async function fromRegistry(ctx: DeployContext, info: DeploymentInfo, running: ImageRecord | undefined, current: ImageRecord | undefined, o: AutoUpdateOptions): Promise<Found> {
  const { parseSource } = await import('../../image/source.js');
  const { parseReference } = await import('../../image/reference.js');
  // the source the deployment's image name was pulled from (it keeps an http: prefix), else the name
  const pulledFrom = [current, running].find((r) => r?.name === info.image && r.source && parseSource(r.source).transport === 'docker');
  const source = pulledFrom?.source ?? info.image;
  // layouts and archives are stored as localhost/NAME: no registry to ask
  if (!pulledFrom && info.image.startsWith('localhost/')) {
    const from = [current, running].find((r) => r?.source)?.source;
    throw new SysctrError(`its image ${info.image} was not pulled from a registry${from ? ` (${from})` : ''}: there is no tag to ask a registry about`, {
      hint: `follow the store instead: sysctr containers update --auto-update=local ${info.name}`,
    });
  }
  const spec = parseSource(source);
  if (spec.transport !== 'docker') throw new SysctrError(`${info.image}: ${source} is not a registry reference`);
  const ref = parseReference(spec.reference);
  if (ref.digest) throw new Skip(`pinned by digest (${ref.digest}): there is no tag to follow`);
  const { resolveManifest } = await import('../../image/resolve.js');
  const r = await resolveManifest(source, { ...o.source, registriesConf: ctx.paths.registriesConf });
  if (r.mirror) ctx.out(`${info.name}: ${source} resolved through mirror ${r.mirror}`);
  if (running && r.digest === running.manifestDigest) return { upToDate: true, next: {} };
  return { upToDate: false, next: { newDigest: r.digest }, pull: source };
}

/** local: the image the store has under the deployment's image name now. */
function fromStore(info: DeploymentInfo, current: ImageRecord | undefined): Found {
  if (!current) {
    throw new SysctrError(`no image named ${info.image} is in the store`, { hint: `pull or tag one under that name (sysctr pull ..., sysctr images tag), or use --auto-update=registry` });
  }
  if (current.id === info.imageId) return { upToDate: true, next: {} };
  return { upToDate: false, next: { newDigest: current.manifestDigest, newImageId: current.id } };
}

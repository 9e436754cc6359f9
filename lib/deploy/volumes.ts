/**
 * Declared volumes (docs/volumes.md): data that outlives the image. A `data` volume is a host
 * directory ROOT/volumes/CONTAINER/VOLUME, made at install for the container's user, bind-mounted
 * read-write, kept across update, rollback and reinstall (uninstall --purge removes it). An
 * `assets` volume is the image's /exports/assets/VOLUME, mounted read-only: it changes with the
 * image. They come from manifest.json `volumes`, or from the image config's `Volumes` (a
 * Dockerfile VOLUME) when the image brings no config of its own.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SysctrError, usageError } from '../errors.js';
import type { ImageConfig } from '../image/types.js';
import { declaredVolumeList, normalizeMount, type VolumeDecl } from '../rootfs/volume-decl.js';

export type { VolumeType } from '../rootfs/volume-decl.js';

export interface Volume extends VolumeDecl {
  /** the directory bind-mounted there */
  hostPath: string;
}

/** ROOT/volumes/CONTAINER: the data volumes of one container, and their snapshot. */
export function volumesRoot(stateRoot: string, container: string): string {
  return path.join(stateRoot, 'volumes', container);
}

/** The volumes of a deployment, with their host paths (data under ROOT/volumes, assets in the checkout). */
export function declaredVolumes(o: {
  manifest: { [k: string]: unknown };
  image?: ImageConfig;
  defaultConfig: boolean;
  stateRoot: string;
  container: string;
  /** the deployment's root filesystem (DESTDIR/rootfs, or install --rootfs DIR) */
  rootfs: string;
}): Volume[] {
  return declaredVolumeList(o.manifest, o.image?.config?.Volumes, o.defaultConfig).map((v) => ({
    ...v,
    hostPath: v.type === 'data' ? path.join(volumesRoot(o.stateRoot, o.container), v.name) : path.join(o.rootfs, 'exports/assets', v.name),
  }));
}

/** The forced VOLUME_* values; a --set of one is refused like a --set DESTDIR. */
export function volumeValues(volumes: Volume[], set: Record<string, string>): Record<string, string> {
  const values: Record<string, string> = {};
  for (const v of volumes) {
    if (Object.hasOwn(set, v.variable)) throw usageError(`--set ${v.variable}: ${v.variable} is the host path of the volume ${v.name}, set by sysctr; it cannot be changed`);
    values[v.variable] = v.hostPath;
  }
  return values;
}

interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

/**
 * config.json with a bind mount for each volume whose mount point it does not mount already (a
 * template may mount $VOLUME_NAME itself, with its own options). Unchanged text without volumes.
 */
export function withVolumeMounts(configJson: string, volumes: Volume[]): string {
  if (!volumes.length) return configJson;
  const doc = JSON.parse(configJson) as { mounts?: OciMount[] };
  const mounts = doc.mounts ?? [];
  const mounted = new Set(mounts.map((m) => normalizeMount(m.destination)));
  let added = false;
  for (const v of volumes) {
    if (mounted.has(v.mount)) continue;
    mounts.push({ destination: v.mount, type: 'bind', source: v.hostPath, options: ['rbind', v.type === 'data' ? 'rw' : 'ro', 'nosuid', 'nodev'] });
    added = true;
  }
  if (!added) return configJson;
  doc.mounts = mounts;
  return JSON.stringify(doc, null, 2) + '\n';
}

/** The host uid/gid config.json runs its process as (through its user namespace's maps, if any). */
export function processOwner(configJson: string, hostUid: number, hostGid: number): { uid: number; gid: number } {
  const doc = JSON.parse(configJson) as {
    process?: { user?: { uid?: number; gid?: number } };
    linux?: { uidMappings?: IdMap[]; gidMappings?: IdMap[] };
  };
  const uid = doc.process?.user?.uid ?? 0;
  const gid = doc.process?.user?.gid ?? 0;
  const map = (id: number, maps: IdMap[] | undefined, fallback: number) => {
    if (!maps?.length) return hostUid === 0 ? id : fallback; // rootless without maps: the user itself
    const m = maps.find((x) => id >= x.containerID && id < x.containerID + x.size);
    return m ? m.hostID + (id - m.containerID) : fallback;
  };
  return { uid: map(uid, doc.linux?.uidMappings, hostUid), gid: map(gid, doc.linux?.gidMappings, hostGid) };
}

interface IdMap {
  containerID: number;
  hostID: number;
  size: number;
}

/**
 * Makes the data volumes that do not exist yet, owned by the container's user; existing ones
 * (an earlier deployment's, or kept by an uninstall) are left exactly as they are. Idempotent.
 */
export function createDataVolumes(volumes: Volume[], owner: { uid: number; gid: number }): string[] {
  const made: string[] = [];
  for (const v of volumes) {
    if (v.type !== 'data' || fs.existsSync(v.hostPath)) continue;
    const parent = path.dirname(v.hostPath);
    fs.mkdirSync(parent, { recursive: true, mode: 0o700 });
    // made under a temp name and renamed: a crash never leaves one owned by the wrong user
    const tmp = path.join(parent, `.${v.name}.new-${process.pid}`);
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { mode: 0o755 });
    fs.chmodSync(tmp, 0o755);
    if (process.getuid?.() === 0) fs.chownSync(tmp, owner.uid, owner.gid);
    fs.renameSync(tmp, v.hostPath);
    made.push(v.hostPath);
  }
  return made;
}

/** The assets volumes' directories must be in the image: an absent one would be an empty mount. */
export function checkAssets(volumes: Volume[], hasDir: (exportsPath: string) => boolean): void {
  for (const v of volumes) {
    if (v.type === 'assets' && !hasDir(`exports/assets/${v.name}`)) {
      throw new SysctrError(`manifest.json: the assets volume ${v.name} has no directory /exports/assets/${v.name} in the image`, {
        hint: `put its files in the image under /exports/assets/${v.name}/, or declare it as "type": "data"`,
      });
    }
  }
}

/** Total bytes of regular files below dir (what a snapshot or backup of it copies). */
export function treeSize(dir: string): number {
  let total = 0;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += treeSize(p);
    else if (e.isFile()) total += fs.lstatSync(p).size;
  }
  return total;
}

export function humanSize(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** Step `volumes` of install and update: the data volumes that do not exist yet, said as made. */
export function volumesStep(ctx: { dryRun: boolean; out: (l: string) => void }, volumes: Volume[], configJson: string): void {
  const data = volumes.filter((v) => v.type === 'data');
  if (!data.length) return;
  const owner = processOwner(configJson, process.getuid?.() ?? 0, process.getgid?.() ?? 0);
  if (ctx.dryRun) {
    for (const v of data) ctx.out(fs.existsSync(v.hostPath) ? `would keep data volume ${v.name} as it is (${v.hostPath})` : `would create data volume ${v.name} at ${v.hostPath} (owner ${owner.uid}:${owner.gid}), mounted at ${v.mount}`);
    return;
  }
  for (const made of createDataVolumes(data, owner)) ctx.out(`created data volume ${made} (owner ${owner.uid}:${owner.gid})`);
}

/**
 * Uninstall's step `volumes`: the data volumes (and their snapshot) are kept and said where, or
 * with --purge removed - renamed away first, so a killed purge never leaves half a volume under
 * its real name, then deleted (a later uninstall removes what a killed one left).
 */
export function volumesAfterUninstall(stateRoot: string, container: string) {
  const dir = volumesRoot(stateRoot, container);
  const parent = path.dirname(dir);
  const leftovers = () => {
    try {
      return fs.readdirSync(parent).filter((e) => e.startsWith(`.${container}.purge-`)).map((e) => path.join(parent, e));
    } catch {
      return [];
    }
  };
  return {
    exists: () => fs.existsSync(dir) || leftovers().length > 0,
    finish(ctx: { dryRun: boolean; out: (l: string) => void }, purge: boolean): void {
      if (!purge) {
        if (fs.existsSync(dir)) ctx.out(`kept the data volumes of ${container} in ${dir} (installing ${container} again uses them; sysctr uninstall --purge ${container} removes them)`);
        return;
      }
      if (ctx.dryRun) {
        if (fs.existsSync(dir)) ctx.out(`would remove the data volumes of ${container}: ${dir}`);
        return;
      }
      if (fs.existsSync(dir)) {
        fs.renameSync(dir, path.join(parent, `.${container}.purge-${process.pid}`));
        ctx.out(`removed the data volumes of ${container} (${dir})`);
      }
      for (const d of leftovers()) fs.rmSync(d, { recursive: true, force: true });
    },
  };
}

/**
 * The volumes an image declares (docs/volumes.md), read from its /exports/manifest.json `volumes`
 * and, for an image that brings no config of its own (the default config.json), from its
 * config's `Volumes` (a Dockerfile VOLUME, which becomes a data volume). Where they live on the
 * host is the deployment's business (lib/deploy/volumes.ts).
 */
import path from 'node:path';
import { SysctrError } from '../errors.js';

export type VolumeType = 'data' | 'assets';

export interface VolumeDecl {
  name: string;
  type: VolumeType;
  /** where the container sees it */
  mount: string;
  /** data: snapshotted before an update (manifest `"snapshot": false` opts out) */
  snapshot: boolean;
  /** the template variable holding its host path */
  variable: string;
  /** manifest.json, or the image config's Volumes */
  from: 'manifest' | 'image-config';
}

/** Mount points that are the runtime's (or sysctr's, /exports): no volume goes there. */
export const RESERVED_MOUNTS = ['/', '/proc', '/dev', '/sys', '/exports'];

/** /a//b/ -> /a/b: mount points compared as the kernel sees them. */
export function normalizeMount(p: string): string {
  const n = path.posix.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}

/** VOLUME_NAME for a volume called name (upper case, - as _). */
export function volumeVariable(name: string): string {
  return `VOLUME_${name.toUpperCase().replace(/-/g, '_')}`;
}

/** /var/lib/db -> var-lib-db: a name for a Dockerfile VOLUME. */
function nameFromMount(mount: string): string {
  return mount.split('/').filter(Boolean).join('-').replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64) || 'root';
}

/** Throws when two volumes share a mount point or a variable. */
export function declaredVolumeList(manifest: { [k: string]: unknown }, imageVolumes: Record<string, unknown> | null | undefined, defaultConfig: boolean): VolumeDecl[] {
  const out: VolumeDecl[] = [];
  const declared = (manifest.volumes ?? {}) as Record<string, { type: VolumeType; mount: string; snapshot?: boolean }>;
  for (const [name, v] of Object.entries(declared)) {
    out.push({ name, type: v.type, mount: normalizeMount(v.mount), snapshot: v.type === 'data' && v.snapshot !== false, variable: volumeVariable(name), from: 'manifest' });
  }
  if (defaultConfig && imageVolumes) {
    for (const raw of Object.keys(imageVolumes)) {
      const mount = normalizeMount(raw);
      if (!mount.startsWith('/') || out.some((v) => v.mount === mount)) continue;
      let name = nameFromMount(mount);
      while (out.some((v) => v.name === name)) name += '_';
      out.push({ name, type: 'data', mount, snapshot: true, variable: volumeVariable(name), from: 'image-config' });
    }
  }
  const seen = new Map<string, string>();
  for (const v of out) {
    const reserved = RESERVED_MOUNTS.find((r) => v.mount === r || (r !== '/' && v.mount.startsWith(`${r}/`)));
    if (reserved) throw new SysctrError(`manifest.json: volume ${v.name} is mounted at ${v.mount}, over ${reserved}, which the container needs`, { hint: 'mount it somewhere else (e.g. /data, /var/lib/NAME)' });
    const other = seen.get(v.variable) ?? seen.get(`mount:${v.mount}`);
    if (other) throw new SysctrError(`manifest.json: volumes ${other} and ${v.name} clash (the same mount point, or the same ${v.variable})`, { hint: 'give each volume its own name and mount point' });
    seen.set(v.variable, v.name);
    seen.set(`mount:${v.mount}`, v.name);
  }
  return out;
}

/**
 * What rendering needs for a plain user's container (docs/rootless.md): runc's state directory
 * and the user namespace's mappings, uid 0 to the user and 1.. to their /etc/subuid and
 * /etc/subgid range. Undefined in system mode and for root's own user manager.
 */
import fs from 'node:fs';
import os from 'node:os';
import { SysctrError } from '../errors.js';
import type { Paths } from '../paths.js';
import type { IdMapping, IdMappings } from '../runtime/rootless.js';
import { requireUserManager } from '../systemd/user-manager.js';

export interface RootlessRuntime {
  runcRoot: string;
  uid: number;
  mappings: IdMappings;
}

/** The first range of USER (name or uid) in a subuid(5)-format file, or undefined. */
export function subordinateRange(file: string, user: string, uid: number): { start: number; count: number } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [who, start, count] = line.trim().split(':');
    if ((who === user || who === String(uid)) && /^\d+$/.test(start ?? '') && /^\d+$/.test(count ?? '') && Number(count) > 0) {
      return { start: Number(start), count: Number(count) };
    }
  }
  return undefined;
}

/** uid 0 to the user's own id, 1..count to the subordinate range (what podman and buildah map). */
export function mappingsFor(hostId: number, range: { start: number; count: number } | undefined): IdMapping[] {
  const own = { containerID: 0, hostID: hostId, size: 1 };
  return range ? [own, { containerID: 1, hostID: range.start, size: range.count }] : [own];
}

/** The rootless inputs for `paths`, or undefined when sysctr is not a plain user in user mode. */
export function rootlessRuntime(paths: Paths, files = { subuid: '/etc/subuid', subgid: '/etc/subgid' }): RootlessRuntime | undefined {
  if (!paths.runcRoot) return undefined;
  if (!/^[A-Za-z0-9_./+-]+$/.test(paths.runcRoot)) {
    throw new SysctrError(`runc's state directory ${JSON.stringify(paths.runcRoot)} (from XDG_RUNTIME_DIR) has characters a unit's command line cannot carry`, {
      hint: 'set XDG_RUNTIME_DIR to /run/user/UID (your login sets it)',
    });
  }
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const name = os.userInfo().username;
  return {
    runcRoot: paths.runcRoot,
    uid,
    mappings: {
      uidMappings: mappingsFor(uid, subordinateRange(files.subuid, name, uid)),
      gidMappings: mappingsFor(gid, subordinateRange(files.subgid, name, uid)),
    },
  };
}

/** Before install or update writes anything: a plain user's manager must be running to take the unit. */
export function requireManagerFor(paths: Paths): void {
  if (paths.runcRoot) requireUserManager(process.getuid?.() ?? 0);
}

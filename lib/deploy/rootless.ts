/**
 * What rendering needs for a plain user's container (docs/rootless.md): runc's state directory
 * and the user namespace's mappings, the same ones the user's store is written in
 * (lib/userns.ts userMappings). Undefined in system mode and for root's own user manager.
 */
import { SysctrError } from '../errors.js';
import type { Paths } from '../paths.js';
import { currentUser, hostIds, userMappings, type UserMappings } from '../userns.js';
import { requireUserManager } from '../systemd/user-manager.js';

export interface RootlessRuntime {
  runcRoot: string;
  /** the user's uid on the host */
  uid: number;
  mappings: UserMappings;
}

/** The rootless inputs for `paths`, or undefined when sysctr is not a plain user in user mode. */
export function rootlessRuntime(paths: Paths, mappings: () => UserMappings = () => userMappings(currentUser())): RootlessRuntime | undefined {
  if (!paths.runcRoot) return undefined;
  if (!/^[A-Za-z0-9_./+-]+$/.test(paths.runcRoot)) {
    throw new SysctrError(`runc's state directory ${JSON.stringify(paths.runcRoot)} (from XDG_RUNTIME_DIR) has characters a unit's command line cannot carry`, {
      hint: 'set XDG_RUNTIME_DIR to /run/user/UID (your login sets it)',
    });
  }
  return { runcRoot: paths.runcRoot, uid: hostIds().uid, mappings: mappings() };
}

/** Before install or update writes anything: a plain user's manager must be running to take the unit. */
export function requireManagerFor(paths: Paths): void {
  if (paths.runcRoot) requireUserManager(hostIds().uid);
}

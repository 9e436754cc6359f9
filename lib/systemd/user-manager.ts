/**
 * Reaching a plain user's own service manager (user@UID.service) from sysctr run by that user:
 * `systemctl --user` finds it through $XDG_RUNTIME_DIR (its private socket, or the session bus
 * there), which su, runuser, sudo and cron do not set. Without a login session or lingering there
 * is no manager at all: the error names `loginctl enable-linger`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SysctrError } from '../errors.js';
import { currentUser } from '../userns.js';
import { userRuntimeDir } from '../paths.js';

/** The environment `systemctl --user` and `systemd-tmpfiles --user` need to find the manager of UID. */
export function userManagerEnv(uid: number, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const dir = userRuntimeDir(uid, env);
  const out: Record<string, string> = { XDG_RUNTIME_DIR: dir };
  if (!env.DBUS_SESSION_BUS_ADDRESS && fs.existsSync(path.join(dir, 'bus'))) out.DBUS_SESSION_BUS_ADDRESS = `unix:path=${path.join(dir, 'bus')}`;
  return out;
}

/** Throws a clear error when UID's manager is not running (no socket in its runtime directory). */
export function requireUserManager(uid: number, env: NodeJS.ProcessEnv = process.env, name?: string): void {
  const dir = userRuntimeDir(uid, env);
  if (fs.existsSync(path.join(dir, 'systemd/private')) || fs.existsSync(path.join(dir, 'bus'))) return;
  // the login name only for the message: finding it may read /etc/passwd
  const user = name ?? userName(uid);
  throw new SysctrError(`your service manager (user@${uid}.service) is not running: ${dir} has no systemd/private or bus socket`, {
    hint: `let it run without a login: loginctl enable-linger ${user} (as root: sudo loginctl enable-linger ${user}), then try again`,
  });
}

function userName(uid: number): string {
  const me = currentUser();
  return me.uid === uid ? me.name : String(uid);
}

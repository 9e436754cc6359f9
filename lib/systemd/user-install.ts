import { UnitFile } from './unit-file.js';

/**
 * Targets of the system manager that a user manager does not have: a unit enabled into one of them
 * there is linked but never started. The user manager starts `default.target` (systemd.special(7)).
 */
const SYSTEM_ONLY_TARGETS = new Set(['multi-user.target', 'graphical.target']);
const LIST_KEYS = ['WantedBy', 'RequiredBy', 'UpheldBy'];

export interface UserInstall {
  text: string;
  /** e.g. `WantedBy=multi-user.target`: what was replaced by default.target */
  replaced: string[];
}

/**
 * An image's own unit as a user manager should enable it: its [Install] targets that only the
 * system manager has become `default.target`, so that a lingering user's container starts with their
 * manager as it would at boot in system mode. A unit that needs no change comes back byte for byte.
 */
export function forUserManager(unit: string): UserInstall {
  const file = UnitFile.parse(unit);
  const replaced: string[] = [];
  for (const key of LIST_KEYS) {
    // the list as systemd builds it (getAll: an empty assignment empties it)
    const words = file.getAll('Install', key).flatMap((v) => v.split(/\s+/));
    if (!words.some((w) => SYSTEM_ONLY_TARGETS.has(w))) continue;
    const mapped: string[] = [];
    for (const w of words) {
      const target = SYSTEM_ONLY_TARGETS.has(w) ? 'default.target' : w;
      if (target !== w) replaced.push(`${key}=${w}`);
      if (!mapped.includes(target)) mapped.push(target);
    }
    file.set('Install', key, mapped.join(' '));
  }
  return { text: replaced.length ? file.toString() : unit, replaced };
}

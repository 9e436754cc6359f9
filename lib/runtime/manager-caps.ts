/**
 * Whose bounding set limits a container: the service manager that runs its unit, which runc
 * inherits it from. System mode: PID 1. User mode: the user's manager (user@UID.service's main
 * PID, found in /proc by its cgroup, or as the user's `systemd --user`). When that process cannot
 * be read, sysctr's own bounding set (intersected with PID 1's) stands in, and the messages say so.
 * `procDir` and `capLastCapFile` are parameters so tests can point them at files of their own.
 */
import fs from 'node:fs';
import path from 'node:path';
import { hostIds } from '../userns.js';
import { grantable, readKernelCapabilities, statusCapMask, type Grantable } from './capabilities.js';

export interface ManagerCapsOptions {
  user: boolean;
  /** the user whose manager runs --user units */
  uid: number;
  procDir?: string;
  capLastCapFile?: string;
}

function readCapBnd(file: string): bigint | undefined {
  try {
    return statusCapMask(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

function readOr(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The PID of UID's service manager: in `.../user@UID.service/init.scope`, else UID's `systemd --user`. */
export function findUserManager(uid: number, procDir = '/proc'): number | undefined {
  let pids: number[];
  try {
    pids = fs.readdirSync(procDir).filter((d) => /^\d+$/.test(d)).map(Number).sort((a, b) => a - b);
  } catch {
    return undefined;
  }
  const scope = new RegExp(`/user@${uid}\\.service/init\\.scope$`, 'm');
  // inside the user's namespace (lib/userns-exec.ts) /proc shows their host uid as the namespace's id
  const seenAs = String(hostIds().uid === uid ? (process.getuid?.() ?? uid) : uid);
  let byCommand: number | undefined;
  for (const pid of pids) {
    const status = readOr(path.join(procDir, String(pid), 'status'));
    const realUid = status && /^Uid:\s*(\d+)/m.exec(status)?.[1];
    if (realUid !== String(uid) && realUid !== seenAs) continue;
    if (scope.test(readOr(path.join(procDir, String(pid), 'cgroup')) ?? '')) return pid;
    const argv = (readOr(path.join(procDir, String(pid), 'cmdline')) ?? '').split('\0');
    if (byCommand === undefined && path.basename(argv[0]) === 'systemd' && argv.includes('--user')) byCommand = pid;
  }
  return byCommand;
}

/** What sysctr may grant the containers of this mode (see the file comment). */
export function managerCapabilities(o: ManagerCapsOptions): Grantable {
  const procDir = o.procDir ?? '/proc';
  const k = readKernelCapabilities(o.capLastCapFile);
  const base = { kernel: k.caps, kernelBeyondTable: k.beyondTable };
  const pid1 = readCapBnd(path.join(procDir, '1/status'));
  if (!o.user) {
    if (pid1 !== undefined) return grantable({ ...base, mask: pid1, manager: 'PID 1, the system manager that runs the unit,' });
    return ownSet(procDir, base, 'PID 1, the system manager that runs the unit,', undefined, `${path.join(procDir, '1/status')} could not be read`);
  }
  const pid = findUserManager(o.uid, procDir);
  const mask = pid === undefined ? undefined : readCapBnd(path.join(procDir, String(pid), 'status'));
  if (pid !== undefined && mask !== undefined) {
    return grantable({ ...base, mask, manager: `PID ${pid}, the service manager of user ${o.uid} that runs the unit,` });
  }
  return ownSet(procDir, base, `the service manager of user ${o.uid} that runs the unit`, pid1, `no user@${o.uid}.service or systemd --user process of user ${o.uid} was found`);
}

/** sysctr's own bounding set, cut to PID 1's when that is known: the most a manager here can hold. */
function ownSet(procDir: string, base: { kernel: string[]; kernelBeyondTable: boolean }, manager: string, pid1: bigint | undefined, why: string): Grantable {
  const own = readCapBnd(path.join(procDir, 'self/status'));
  const mask = own === undefined ? pid1 : pid1 === undefined ? own : own & pid1;
  if (mask === undefined) return grantable({ ...base, manager, note: `${why}, nor sysctr's own status: nothing is left out` });
  const whose = own === undefined ? "PID 1's bounding set" : pid1 === undefined ? "sysctr's own bounding set" : "sysctr's own bounding set, cut to PID 1's,";
  return grantable({ ...base, mask, manager, note: `${why}; ${whose} stands in for it` });
}

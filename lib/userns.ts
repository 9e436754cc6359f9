/**
 * The user namespace of an unprivileged user's store and containers (docs/rootless.md): container
 * id 0 is the user, ids 1..N are the user's subordinate ranges from /etc/subuid and /etc/subgid, in
 * file order, as podman and buildah map them. The store work runs in a namespace with this mapping
 * (lib/userns-exec.ts) and the runtime config carries the same one, so a file the image gives to
 * uid 1000 is owned on the host by the id the container sees as 1000.
 */
import fs from 'node:fs';
import os from 'node:os';
import { SysctrError } from './errors.js';

/** One line of a mapping, in the OCI runtime config's form (linux.uidMappings / gidMappings). */
export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface UserMappings {
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
}

/** Who the mapping is for: a name and ids as the password database has them. */
export interface UserIdentity {
  name: string;
  uid: number;
  gid: number;
}

export interface SubIdFiles {
  subuid: string;
  subgid: string;
}

export const SUBID_FILES: SubIdFiles = { subuid: '/etc/subuid', subgid: '/etc/subgid' };

/** A subordinate range: `count` ids from `start`. */
export interface SubIdRange {
  start: number;
  count: number;
}

/**
 * The ranges subuid(5)/subgid(5) text gives a user, named by login name or by numeric id, in file
 * order. Malformed lines and ranges of zero ids are skipped, as newuidmap skips them.
 */
export function parseSubIds(text: string, user: { name: string; id: number }): SubIdRange[] {
  const out: SubIdRange[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length !== 3 || !/^\d+$/.test(f[1]) || !/^\d+$/.test(f[2])) continue;
    if (f[0] !== user.name && f[0] !== String(user.id)) continue;
    const start = Number(f[1]);
    const count = Number(f[2]);
    if (count > 0 && start + count <= 2 ** 32 - 1) out.push({ start, count });
  }
  return out;
}

/** Container 0 is the user's own id; 1.. the ranges one after the other. */
export function mappingsFrom(ownId: number, ranges: SubIdRange[]): IdMapping[] {
  const out: IdMapping[] = [{ containerID: 0, hostID: ownId, size: 1 }];
  let next = 1;
  for (const r of ranges) {
    out.push({ containerID: next, hostID: r.start, size: r.count });
    next += r.count;
  }
  return out;
}

/** The caller as the password database knows it (the real ids, whatever namespace this runs in). */
export function currentUser(): UserIdentity {
  const host = hostIds();
  return { name: userName(host.uid), uid: host.uid, gid: host.gid };
}

/** A uid's login name; in a user namespace getpwuid would answer for the namespace's id 0. */
function userName(uid: number): string {
  if (uid === process.getuid?.()) {
    try {
      return os.userInfo().username;
    } catch {
      return String(uid);
    }
  }
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length > 2 && f[2] === String(uid)) return f[0];
    }
  } catch {
    /* no passwd file: the numeric id is what subuid(5) may name */
  }
  return String(uid);
}

/**
 * The mapping for `user`'s containers and store: 0 → the user, 1..N → the subordinate ranges.
 * A user with no range in either file gets an error naming the file and the command that adds one.
 */
export function userMappings(user: UserIdentity = currentUser(), files: SubIdFiles = SUBID_FILES): UserMappings {
  const read = (file: string) => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw new SysctrError(`cannot read ${file}: ${(err as Error).message}`);
    }
  };
  const uids = parseSubIds(read(files.subuid), { name: user.name, id: user.uid });
  const gids = parseSubIds(read(files.subgid), { name: user.name, id: user.uid });
  const missing = [uids.length ? '' : files.subuid, gids.length ? '' : files.subgid].filter(Boolean);
  if (missing.length) {
    const kinds = [uids.length ? '' : 'uids', gids.length ? '' : 'gids'].filter(Boolean).join(' or ');
    const add = [uids.length ? '' : '--add-subuids 100000-165535', gids.length ? '' : '--add-subgids 100000-165535'].filter(Boolean).join(' ');
    throw new SysctrError(
      `user ${user.name} has no subordinate ${kinds} in ${missing.join(' and ')}: a user's store keeps the image's file owners (root, 1000, ...) in a user namespace mapped from them`,
      { hint: `ask root to add a range that no other user has: usermod ${add} ${user.name}` },
    );
  }
  return { uidMappings: mappingsFrom(user.uid, uids), gidMappings: mappingsFrom(user.gid, gids) };
}

/** The ids a mapping covers, as container ids: [first, last] ranges sorted. */
function containerRanges(m: IdMapping[]): Array<[number, number]> {
  return m.map((x) => [x.containerID, x.containerID + x.size - 1] as [number, number]).sort((a, b) => a[0] - b[0]);
}

/** "0-65536" for the container ids a mapping covers (adjacent lines joined), and where each part lands on the host. */
export function describeMapping(m: IdMapping[]): string {
  const joined: Array<[number, number]> = [];
  for (const [a, b] of containerRanges(m)) {
    const last = joined[joined.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else joined.push([a, b]);
  }
  const span = (a: number, n: number) => (n === 1 ? `${a}` : `${a}-${a + n - 1}`);
  const host = m.map((x) => `${span(x.containerID, x.size)} as ${span(x.hostID, x.size)}`);
  return `${joined.map(([a, b]) => span(a, b - a + 1)).join(', ')} (on the host: ${host.join(', ')})`;
}

/** Reads /proc/self/uid_map or gid_map: the namespace this process runs in. */
function readProcMap(kind: 'uid' | 'gid', procDir = '/proc'): IdMapping[] | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`${procDir}/self/${kind}_map`, 'utf8');
  } catch {
    return undefined;
  }
  const out: IdMapping[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/).map(Number);
    if (f.length === 3 && f.every(Number.isFinite)) out.push({ containerID: f[0], hostID: f[1], size: f[2] });
  }
  return out;
}

/** The initial namespace maps every id to itself, all 2^32-1 of them. */
function isIdentity(m: IdMapping[]): boolean {
  return m.length === 1 && m[0].containerID === 0 && m[0].hostID === 0 && m[0].size === 4294967295;
}

/** The mappings of the namespace this process runs in, or undefined in the initial one. */
export function namespaceMappings(procDir = '/proc'): UserMappings | undefined {
  const uidMappings = readProcMap('uid', procDir);
  const gidMappings = readProcMap('gid', procDir);
  if (!uidMappings || !gidMappings || (isIdentity(uidMappings) && isIdentity(gidMappings))) return undefined;
  return { uidMappings, gidMappings };
}

/**
 * The caller's uid and gid on the host: what HOST_UID/HOST_GID mean and whose user manager runs
 * the units, also when this process runs as id 0 of a user namespace.
 */
export function hostIds(procDir = '/proc'): { uid: number; gid: number } {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const ns = namespaceMappings(procDir);
  if (!ns) return { uid, gid };
  const outer = (m: IdMapping[], id: number) => m.find((x) => id >= x.containerID && id < x.containerID + x.size);
  const u = outer(ns.uidMappings, uid);
  const g = outer(ns.gidMappings, gid);
  return { uid: u ? u.hostID + uid - u.containerID : uid, gid: g ? g.hostID + gid - g.containerID : gid };
}

/**
 * Whether sysctr runs for a plain user (host uid not 0), also as id 0 of that user's namespace,
 * where process.getuid() says 0: the test for anything rootless (runc's state directory, the
 * runtime config's user namespace, the user's manager).
 */
export function isPlainUser(procDir = '/proc'): boolean {
  return hostIds(procDir).uid !== 0;
}

/** An image's file owned by an id the namespace does not map: nothing of it can be stored. */
export class UnmappedIdError extends SysctrError {}

/**
 * A check for every entry of an image in this process's user namespace, or undefined when the
 * process runs in the initial namespace (every id can be given). Throws UnmappedIdError naming the
 * id, the file and the range, as podman says "potentially insufficient UIDs or GIDs".
 */
export function idChecker(procDir = '/proc'): ((uid: number, gid: number, file: string) => void) | undefined {
  const ns = namespaceMappings(procDir);
  if (!ns) return undefined;
  const uids = containerRanges(ns.uidMappings);
  const gids = containerRanges(ns.gidMappings);
  const mapped = (r: Array<[number, number]>, id: number) => r.some(([a, b]) => id >= a && id <= b);
  return (uid, gid, file) => {
    const bad = !mapped(uids, uid) ? { kind: 'uid', id: uid, m: ns.uidMappings, f: SUBID_FILES.subuid } : !mapped(gids, gid) ? { kind: 'gid', id: gid, m: ns.gidMappings, f: SUBID_FILES.subgid } : undefined;
    if (!bad) return;
    throw new UnmappedIdError(
      `"${file}" is owned by ${bad.kind} ${bad.id}, outside the ${bad.kind}s of this user's namespace, ${describeMapping(bad.m)}: potentially insufficient UIDs or GIDs available in user namespace (requested ${uid}:${gid} for /${file}); nothing was stored`,
      { hint: `a range of more ids in ${bad.f} covers it (as root: usermod --add-sub${bad.kind}s START-END ${currentUser().name}), or rebuild the image with owners below ${Math.max(...containerRanges(bad.m).map((r) => r[1])) + 1}` },
    );
  };
}

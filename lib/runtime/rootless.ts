/**
 * config.json for a container a plain user runs (`sysctr --user` as a uid other than 0), and
 * what such a container cannot have (docs/rootless.md). runc runs unprivileged: the container gets
 * a user namespace with the user's mappings (uid 0 is the user, 1.. the subordinate range), the
 * host's /sys by rbind (sysfs cannot be mounted without owning the network namespace), nosuid and
 * nodev on every bind mount (the kernel refuses to drop flags locked by the host's mount), no
 * cgroup limits, and a cgroup inside the unit's own (a `Type=forking` unit refuses a PID file
 * whose process sits in a cgroup beside it). What a user cannot get at all is refused before
 * anything is written, naming what is missing. Pure logic over the parsed document.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SysctrError } from '../errors.js';
import type { IdMapping, UserMappings } from '../userns.js';

/** linux.uidMappings / gidMappings: the user's namespace (lib/userns.ts userMappings). */
export type IdMappings = UserMappings;

export interface RootlessInput {
  name: string;
  mappings: IdMappings;
  /** the user's host uid, named in messages */
  uid: number;
  /** values the config was rendered with (PORT-like ones are checked) */
  values: Record<string, string>;
  /** net.ipv4.ip_unprivileged_port_start; default read from /proc */
  unprivilegedPortStart?: number;
  /** whether the user can read PATH (and create it when missing); default fs.access as this process */
  canUse?: (p: string) => string | undefined;
  /** /sys/fs/cgroup is cgroup v2; default: whether it has cgroup.controllers */
  unifiedCgroup?: boolean;
}

/**
 * Capabilities that do nothing outside the kernel's first user namespace: a container asking for
 * one means it wants the host (the clock, modules, raw I/O, audit, the MAC policy).
 */
const HOST_ONLY_CAPS = [
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_TIME', 'CAP_AUDIT_CONTROL', 'CAP_MAC_ADMIN',
  'CAP_MAC_OVERRIDE', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND',
];

/** Network capabilities that act on the host's network when the container shares it. */
const HOST_NET_CAPS = ['CAP_NET_ADMIN', 'CAP_NET_RAW'];

/** A value that names a port: PORT, HTTP_PORT, PORT_2 ... */
const PORT_NAME = /(^|_)PORTS?(_\d+)?$/i;

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** The kernel's lowest port a plain user may bind (1024 unless the sysctl says otherwise). */
export function unprivilegedPortStart(file = '/proc/sys/net/ipv4/ip_unprivileged_port_start'): number {
  try {
    const n = Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(n) ? n : 1024;
  } catch {
    return 1024;
  }
}

/** Why this process cannot use PATH as a bind-mount source, or undefined when it can. */
export function accessProblem(p: string): string | undefined {
  try {
    fs.accessSync(p, fs.constants.R_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') return `${p} is not readable by you (${code})`;
  }
  // missing: it is created (by tmpfiles or the service) where the user can write
  let dir = path.dirname(p);
  while (dir !== path.dirname(dir) && !fs.existsSync(dir)) dir = path.dirname(dir);
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
    return undefined;
  } catch {
    return `${p} does not exist and you cannot create it (${dir} is not writable by you)`;
  }
}

const inRange = (maps: IdMapping[], id: number) => maps.some((m) => id >= m.containerID && id < m.containerID + m.size);
const ranges = (maps: IdMapping[]) => maps.map((m) => (m.size === 1 ? `${m.containerID}` : `${m.containerID}-${m.containerID + m.size - 1}`)).join(', ');

function refuse(name: string, what: string, hint: string): never {
  throw new SysctrError(`${name}: a container run by a user cannot ${what}; refused`, { hint });
}

/**
 * The config document rewritten for rootless runc, and warnings for what was left out. Throws
 * SysctrError for what a user cannot have. `doc` is not changed.
 */
export function rootlessConfig(doc: unknown, o: RootlessInput): { config: Json; warnings: string[] } {
  const config = structuredClone(obj(doc) ?? {}) as Json;
  const warnings: string[] = [];
  const linux = (obj(config.linux) ?? {}) as Json;
  config.linux = linux;
  const process = obj(config.process) ?? {};
  const namespaces = arr(linux.namespaces).map((n) => obj(n) ?? {});
  const hostNet = !namespaces.some((n) => n.type === 'network');
  const { uidMappings, gidMappings } = o.mappings;

  for (const n of namespaces) {
    if (typeof n.path === 'string' && n.path !== '') {
      refuse(o.name, `join the ${String(n.type)} namespace at ${n.path}`, 'a user can only make namespaces of their own: remove the "path" of that namespace in config.json.template');
    }
  }
  const devices = arr(linux.devices).map((d) => String(obj(d)?.path ?? '?'));
  if (devices.length) {
    refuse(o.name, `have host devices (${devices.join(', ')} in linux.devices)`, 'a user cannot create device nodes: install it as root (without --user), or leave the devices out of config.json.template');
  }

  // capabilities: only what the effective, permitted and ambient sets ask for (bounding only limits)
  const caps = obj(process.capabilities) ?? {};
  const asked = new Set(['effective', 'permitted', 'ambient'].flatMap((s) => arr(caps[s]).map(String)));
  const hostOnly = [...asked].filter((c) => HOST_ONLY_CAPS.includes(c) || (hostNet && HOST_NET_CAPS.includes(c)));
  if (hostOnly.length) {
    const net = hostOnly.some((c) => HOST_NET_CAPS.includes(c)) ? ' (the container shares the host\'s network)' : '';
    refuse(o.name, `have ${hostOnly.join(', ')} over the host${net}: inside a user namespace they do not reach the host`, 'install it as root (without --user), or give it a config.json.template without them');
  }

  // a port below the kernel's unprivileged start, on the host's network
  if (hostNet) {
    const start = o.unprivilegedPortStart ?? unprivilegedPortStart();
    for (const [k, v] of Object.entries(o.values)) {
      if (!PORT_NAME.test(k) || !/^\d+$/.test(v.trim())) continue;
      const port = Number(v.trim());
      if (port > 0 && port < start) {
        refuse(o.name, `listen on port ${port} (${k}=${v}): ports below ${start} need root (net.ipv4.ip_unprivileged_port_start is ${start})`,
          `choose a port of ${start} or more (--set ${k}=${Math.max(start, 8000 + (port % 1000))}), or let root lower it: sysctl net.ipv4.ip_unprivileged_port_start=${port}`);
      }
    }
  }

  // the process's ids must be mapped, as runc's own rootless checks require
  const user = obj(process.user) ?? {};
  const uid = Number(user.uid ?? 0);
  const gids = [Number(user.gid ?? 0), ...arr(user.additionalGids).map(Number)];
  if (!inRange(uidMappings, uid)) refuse(o.name, `run as uid ${uid}: it is outside your user namespace (${ranges(uidMappings)})`, 'add a subordinate range to /etc/subuid for your user (usermod --add-subuids), or run it as another uid');
  for (const g of gids) {
    if (!inRange(gidMappings, g)) refuse(o.name, `run with gid ${g}: it is outside your user namespace (${ranges(gidMappings)})`, 'add a subordinate range to /etc/subgid for your user (usermod --add-subgids)');
  }

  const canUse = o.canUse ?? accessProblem;
  config.mounts = arr(config.mounts).map((raw) => {
    const m = { ...(obj(raw) ?? {}) };
    const options = arr(m.options).map(String);
    if (m.type === 'sysfs' || (m.destination === '/sys' && m.type !== 'bind')) {
      return { destination: m.destination, type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] };
    }
    const bind = m.type === 'bind' || options.includes('bind') || options.includes('rbind');
    if (bind) {
      const source = String(m.source ?? '');
      const problem = path.isAbsolute(source) ? canUse(source) : undefined;
      if (problem) refuse(o.name, `bind-mount ${source} at ${String(m.destination)}: ${problem}`, 'give it a path you can read (a --set value, or a volume in your home)');
      for (const f of ['nosuid', 'nodev']) if (!options.includes(f)) options.push(f);
      m.options = options;
    }
    // uid=/gid= options (devpts gid=5, a tmpfs's owner) must name a mapped id
    const kept = options.filter((opt) => {
      const id = /^(uid|gid)=(\d+)$/.exec(opt);
      if (!id) return true;
      return inRange(id[1] === 'uid' ? uidMappings : gidMappings, Number(id[2]));
    });
    if (kept.length !== options.length) m.options = kept;
    return m;
  });

  if (obj(linux.resources) && Object.keys(obj(linux.resources)!).length) {
    warnings.push(`linux.resources (${Object.keys(obj(linux.resources)!).join(', ')}) left out: a user's container gets no cgroup limits from config.json`);
  }
  delete linux.resources;
  if (!namespaces.some((n) => n.type === 'user')) namespaces.push({ type: 'user' });
  // runc makes a cgroup path without a leading / under the parent of its own cgroup: the unit's
  // own cgroup (app.slice/NAME.service) when the user manager runs it. On cgroup v1 a user can
  // make no cgroup, and runc leaves the container in its own (the unit's) when no path is given.
  if (o.unifiedCgroup ?? fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) linux.cgroupsPath = `${o.name}.service/container`;
  else delete linux.cgroupsPath;
  linux.namespaces = namespaces;
  linux.uidMappings = uidMappings;
  linux.gidMappings = gidMappings;
  return { config, warnings };
}

/** The rootless document as config.json text: two-space JSON and a final newline. */
export function rootlessConfigText(text: string, o: RootlessInput): { text: string; warnings: string[] } {
  const { config, warnings } = rootlessConfig(JSON.parse(text), o);
  return { text: JSON.stringify(config, null, 2) + '\n', warnings };
}

/**
 * A tmpfiles conf for a user's container: owner and group `root` (or 0) become `-`, the user
 * running systemd-tmpfiles, who is the container's root. Other owners are left for
 * systemd-tmpfiles to refuse: a user cannot give files away.
 */
export function rootlessTmpfiles(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      if (/^\s*(#|$)/.test(line)) return line;
      return line.replace(/^(\s*\S+\s+\S+\s+\S+\s+)(\S+)(\s+)(\S+)/, (_all, head: string, user: string, sep: string, group: string) => {
        const own = (v: string) => (v === 'root' || v === '0' ? '-' : v);
        return `${head}${own(user)}${sep}${own(group)}`;
      });
    })
    .join('\n');
}

/**
 * The config.json generated for an image without config.json.template / config.json: what
 * `runc spec` writes, adjusted for a service: terminal false, read-only root at `rootfs`,
 * the image's Entrypoint+Cmd (or /usr/bin/run.sh), Env and WorkingDir, and the host's network
 * namespace (Project Atomic's default) so the service can be reached.
 */
import type { ImageConfig } from '../image/types.js';

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** runc spec's default capability set */
const DEFAULT_CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

/** "1000", "1000:1000": numeric users only (a name needs the image's /etc/passwd; root then). */
function imageUser(user: string | undefined): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(user ?? '');
  if (!m) return { uid: 0, gid: 0 };
  const uid = Number(m[1]);
  return { uid, gid: m[2] === undefined ? uid : Number(m[2]) };
}

export interface DefaultConfigInput {
  name: string;
  image?: ImageConfig;
}

export function defaultConfig(o: DefaultConfigInput): Record<string, unknown> {
  const c = o.image?.config ?? {};
  const entry = [...(c.Entrypoint ?? []), ...(c.Cmd ?? [])];
  const args = entry.length ? entry : ['/usr/bin/run.sh'];
  const env = [...(c.Env ?? [])];
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(DEFAULT_PATH);
  if (!env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
  const nosuidNoexecNodev = ['nosuid', 'noexec', 'nodev'];
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: imageUser(c.User),
      args,
      env,
      cwd: c.WorkingDir || '/',
      capabilities: {
        bounding: DEFAULT_CAPS,
        effective: DEFAULT_CAPS,
        permitted: DEFAULT_CAPS,
        ambient: DEFAULT_CAPS,
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: o.name,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: [...nosuidNoexecNodev, 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: nosuidNoexecNodev },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: [...nosuidNoexecNodev, 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: [...nosuidNoexecNodev, 'relatime', 'ro'] },
      // a writable /tmp and /run on a read-only root
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
      { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=755'] },
    ],
    linux: {
      // no "network" namespace: the service shares the host's network
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: [
        '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
        '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/** The text written to config.json: two-space JSON and a final newline. */
export function defaultConfigText(o: DefaultConfigInput): string {
  return JSON.stringify(defaultConfig(o), null, 2) + '\n';
}

/**
 * A throw-away systemd for end-to-end tests, booted with systemd-nspawn (why each option: docs/design.md, "Tests"):
 * host `/` volatile (fresh /etc, /var, /run on a tmpfs; /usr read-only from the host), the project
 * dir and a scratch dir bound in, commands run with `nsenter --target LEADER --all`. One per test
 * file, each from a cgroup of its own (machines booted from one cgroup share their units' cgroups).
 * systemd-networkd-wait-online masked (it can hold the boot at `starting` for two minutes).
 * `--private-network` by default: each machine has its own loopback, so services in
 * test files running side by side cannot collide on a port. `hostNetwork` shares the host's instead,
 * for machines that must reach servers the test runs on the host's loopback (a fleet and its registries):
 * their services then need free ports of their own. The machine is killed at teardown, on failure too, and when the test process exits.
 */
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { projectDir, sysctrBin } from './cli.js';
import { unmet } from './prereq.js';

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Why the end-to-end tests cannot run here, or undefined when they can. */
export function missingPrerequisite(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root';
  for (const [prog, pkg] of [
    ['/usr/bin/systemd-nspawn', 'systemd-container'],
    ['/usr/bin/nsenter', 'util-linux'],
    ['/usr/sbin/runc', 'runc'],
    ['/usr/bin/umoci', 'umoci'],
    ['/bin/busybox', 'busybox-static'],
  ] as const) {
    if (!fs.existsSync(prog)) return `${prog} is missing (apt-get install ${pkg}, or run scripts/setup.sh)`;
  }
  if (!fs.existsSync('/usr/lib/systemd/systemd')) return '/usr/lib/systemd/systemd is missing';
  return undefined;
}

/** For tap: the machine can boot here, or `unmet` (fails under CI, skips loudly). */
export function requireRealSystemd(t: Test): boolean {
  const why = missingPrerequisite();
  return why ? unmet(t, `end-to-end tests need a real systemd and runc: ${why}`) : true;
}

const live = new Set<Machine>();
process.on('exit', () => {
  for (const m of live) m.killNow();
});
// tap's timeout sends SIGTERM: 'exit' handlers do not run on a default signal death
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.once(sig, () => {
    for (const m of live) {
      m.killNow();
      fs.rmSync(m.scratch, { recursive: true, force: true });
    }
    process.exit(128 + os.constants.signals[sig]);
  });
}

// systemd-networkd-wait-online holds is-system-running at "starting" for two minutes
const BOOT_MASKS = ['systemd.mask=systemd-networkd-wait-online.service'];

/**
 * The cgroup hierarchies a machine gets a cgroup of its own in. Machines booted from one cgroup
 * share every unit's cgroup: a unit of the same name in two machines at once is one
 * service to systemd and runc. A hybrid host has the unified and the name=systemd ones.
 */
function cgroupRoots(): string[] {
  const hybrid = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup/systemd'].filter((d) => fs.existsSync(path.join(d, 'cgroup.procs')));
  if (hybrid.length) return hybrid;
  return fs.existsSync('/sys/fs/cgroup/cgroup.procs') ? ['/sys/fs/cgroup'] : [];
}

/** Removes a machine's cgroups, deepest first (its processes must be gone); false if some stay. */
function removeCgroups(dirs: string[]): boolean {
  let clean = true;
  const rm = (d: string) => {
    let entries: fs.Dirent[] = [];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) rm(path.join(d, e.name));
    try {
      fs.rmdirSync(d);
    } catch {
      clean = false;
    }
  };
  for (const d of dirs) rm(d);
  return clean;
}

export class Machine {
  private constructor(
    readonly name: string,
    readonly nspawnPid: number,
    readonly leader: number,
    /** a host dir bound at the same path inside */
    readonly scratch: string,
    private readonly exited: Promise<void>,
    readonly log: string,
    /** the machine's own cgroups, removed at shutdown */
    private readonly cgroups: string[] = [],
  ) {}

  /** Boots a machine; throws with the nspawn log when it does not come up in time. */
  static async boot(opts: { binds?: string[]; timeoutMs?: number; dropCapabilities?: string[]; hostNetwork?: boolean } = {}): Promise<Machine> {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-e2e-'));
    const name = `sysctr-test-${process.pid}-${Math.random().toString(36).slice(2, 7)}`;
    const log = path.join(scratch, 'nspawn.log');
    const logFd = fs.openSync(log, 'w');
    const binds = [projectDir, scratch, ...(opts.binds ?? [])].map((b) => `--bind=${b}`);
    // a host unlike this one: capabilities missing from every process's bounding set, PID 1's included.
    // wait-online is masked: with some of these sets it holds is-system-running at "starting" for 2 min
    const drop = opts.dropCapabilities?.length ? [`--drop-capability=${opts.dropCapabilities.join(',')}`] : [];
    const cgroups = cgroupRoots().map((r) => path.join(r, name));
    for (const d of cgroups) fs.mkdirSync(d);
    // nspawn starts in the machine's own cgroups: the shell moves itself there, then execs it
    const enter = cgroups.map((d) => `echo $$ > ${d}/cgroup.procs && `).join('');
    const proc = spawn(
      '/bin/sh',
      [
        '-c',
        `${enter}exec systemd-nspawn "$@"`,
        'sh',
        ...['--boot', '--directory=/', '--volatile=yes', `--machine=${name}`, '--register=no', '--keep-unit', '--capability=all', ...drop, ...(opts.hostNetwork ? [] : ['--private-network']), ...binds, 'systemd.firstboot=off', ...BOOT_MASKS],
      ],
      { env: { ...process.env, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: '1', SYSTEMD_SECCOMP: '0' }, stdio: ['ignore', logFd, logFd], detached: true },
    );
    const exited = new Promise<void>((res) => proc.once('exit', () => res()));
    fs.closeSync(logFd);
    const nspawnPid = proc.pid!;
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    let leader = 0;
    let m: Machine | undefined;
    try {
      while (Date.now() < deadline) {
        if (proc.exitCode !== null) break;
        leader ||= findLeader(nspawnPid);
        if (leader) {
          m ??= new Machine(name, nspawnPid, leader, scratch, exited, log, cgroups);
          live.add(m);
          const r = await m.exec(['systemctl', 'is-system-running'], { timeoutMs: 5000 });
          if (/^(running|degraded)$/m.test(r.stdout)) return m;
        }
        await new Promise((res) => setTimeout(res, 250));
      }
    } catch (err) {
      m?.killNow();
      throw err;
    }
    const tail = fs.readFileSync(log, 'utf8').slice(-2000);
    if (m) await m.shutdown();
    else {
      process.kill(nspawnPid, 'SIGKILL');
      await exited;
      removeCgroups(cgroups);
      fs.rmSync(scratch, { recursive: true, force: true });
    }
    throw new Error(`systemd-nspawn did not boot: ${tail}`);
  }

  /** Runs a command inside (all namespaces of the machine's systemd), with a clean environment. */
  async exec(cmd: string[], opts: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
    const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8', ...opts.env };
    const r = await execa('nsenter', [`--target=${this.leader}`, '--all', '--', 'env', '-i', '--chdir=/', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...cmd], {
      reject: false,
      input: opts.input,
      timeout: opts.timeoutMs ?? 120_000,
      extendEnv: false,
      env: {},
    });
    return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout), stderr: String(r.stderr) };
  }

  /** A shell script inside. */
  sh(script: string, opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<ExecResult> {
    return this.exec(['/bin/sh', '-c', script], opts);
  }

  /** The built sysctr CLI inside the machine (node from the host's /usr). */
  sysctr(args: string[], env: Record<string, string> = {}): Promise<ExecResult> {
    return this.exec(['/usr/bin/node', sysctrBin, ...args], { env });
  }

  /** Kills the machine's init (and so everything in it) and nspawn; synchronous, for exit paths. */
  killNow(): void {
    live.delete(this);
    for (const pid of [this.leader, this.nspawnPid]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }

  /** Kills the machine and waits for nspawn to end; removes the scratch dir. */
  async shutdown(): Promise<void> {
    this.killNow();
    await Promise.race([this.exited, new Promise((res) => setTimeout(res, 15_000))]);
    fs.rmSync(this.scratch, { recursive: true, force: true });
    // the machine's processes take a moment to leave its cgroups
    for (let i = 0; i < 50 && !removeCgroups(this.cgroups); i++) await new Promise((res) => setTimeout(res, 100));
  }
}

/** The machine's systemd: the child of nspawn whose command line is /usr/lib/systemd/systemd. */
function findLeader(nspawnPid: number): number {
  let children: string[];
  try {
    children = fs.readFileSync(`/proc/${nspawnPid}/task/${nspawnPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    return 0;
  }
  for (const c of children) {
    try {
      const cmdline = fs.readFileSync(`/proc/${c}/cmdline`, 'utf8').split('\0');
      if (cmdline[0].endsWith('/systemd')) return Number(c);
    } catch {
      /* gone */
    }
  }
  return 0;
}


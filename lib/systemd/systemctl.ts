/**
 * systemctl, systemd-tmpfiles and systemd-analyze, system or user mode, through a Runner (so
 * `--dry-run` prints them and sequencing tests can record them).
 */
import type { Runner } from '../proc.js';

export interface UnitState {
  id: string;
  /** loaded, not-found, masked, ... */
  loadState: string;
  /** active, inactive, failed, activating, deactivating, reloading */
  activeState: string;
  /** running, dead, failed, exited, ... */
  subState: string;
  /** success, exit-code, signal, timeout, ... */
  result: string;
}

/** sysctr's word for a unit's state: running, inactive, failed (or systemd's transitional words). */
export function containerState(s: UnitState | undefined): string {
  if (!s) return 'unknown';
  if (s.activeState === 'active') return s.subState === 'running' ? 'running' : s.subState || 'active';
  return s.activeState || 'unknown';
}

/** Parses `systemctl show -p ...` output for several units: blocks separated by blank lines. */
export function parseShow(stdout: string): UnitState[] {
  const out: UnitState[] = [];
  for (const block of stdout.split(/\n\s*\n/)) {
    const kv: Record<string, string> = {};
    for (const line of block.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) kv[line.slice(0, eq)] = line.slice(eq + 1);
    }
    if (!kv.Id) continue;
    out.push({
      id: kv.Id,
      loadState: kv.LoadState ?? '',
      activeState: kv.ActiveState ?? '',
      subState: kv.SubState ?? '',
      result: kv.Result ?? '',
    });
  }
  return out;
}

export class Systemd {
  constructor(
    readonly runner: Runner,
    readonly user: boolean,
  ) {}

  private ctl(args: string[], allowFailure = false) {
    return this.runner.run('systemctl', this.user ? ['--user', ...args] : args, { allowFailure });
  }

  daemonReload() {
    return this.ctl(['daemon-reload']);
  }
  /** --no-reload: install has just run daemon-reload; a second reload costs ~0.1 s for nothing */
  enable(unit: string) {
    return this.ctl(['enable', '--no-reload', unit]);
  }
  start(unit: string) {
    return this.ctl(['start', unit]);
  }
  stop(unit: string) {
    return this.ctl(['stop', unit]);
  }
  /** disable --now; a unit systemd does not know is not an error (uninstall is idempotent) */
  disableNow(unit: string) {
    return this.ctl(['disable', '--now', unit], true);
  }
  resetFailed(unit: string) {
    return this.ctl(['reset-failed', unit], true);
  }

  async isActive(unit: string): Promise<boolean> {
    const r = await this.ctl(['is-active', '--quiet', unit], true);
    return r.exitCode === 0;
  }

  /**
   * One `systemctl show` for every unit (fast listings). Empty when systemd cannot be reached
   * (no systemd as PID 1): callers show the state as unknown.
   */
  async show(units: string[]): Promise<Map<string, UnitState>> {
    const map = new Map<string, UnitState>();
    if (units.length === 0) return map;
    const r = await this.ctl(['show', '-p', 'Id,LoadState,ActiveState,SubState,Result', '--', ...units], true);
    if (r.exitCode !== 0) return map;
    for (const s of parseShow(r.stdout)) map.set(s.id, s);
    return map;
  }

  tmpfilesCreate(conf: string) {
    return this.runner.run('systemd-tmpfiles', [...(this.user ? ['--user'] : []), '--create', conf]);
  }
  tmpfilesRemove(conf: string) {
    return this.runner.run('systemd-tmpfiles', [...(this.user ? ['--user'] : []), '--remove', conf], { allowFailure: true });
  }

  /** `systemd-analyze verify`: returns its diagnostics (empty when clean) and whether it passed. */
  async verify(unitPath: string): Promise<{ ok: boolean; output: string }> {
    const r = await this.runner.run('systemd-analyze', [...(this.user ? ['--user'] : []), 'verify', unitPath], { allowFailure: true });
    return { ok: r.exitCode === 0, output: (r.stderr + r.stdout).trim() };
  }
}

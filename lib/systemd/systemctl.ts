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

/** Parses `systemctl list-units --plain --no-legend` lines (UNIT LOAD ACTIVE SUB DESCRIPTION) of the asked units. */
export function parseListUnits(stdout: string, units: string[]): UnitState[] {
  const asked = new Set(units);
  const out: UnitState[] = [];
  for (const line of stdout.split('\n')) {
    const f = line.trim().split(/\s+/);
    // some systemd versions mark failed units with a leading "●" even in --plain
    const i = asked.has(f[0]) ? 0 : asked.has(f[1]) ? 1 : -1;
    if (i < 0 || f.length < i + 4) continue;
    out.push({ id: f[i], loadState: f[i + 1], activeState: f[i + 2], subState: f[i + 3], result: '' });
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
  /**
   * disable + enable in one call: the unit's links made afresh from its [Install] section as it is
   * on disk now (disable removes every link to the unit, not only those its section names).
   */
  reenable(unit: string) {
    return this.ctl(['reenable', '--no-reload', unit]);
  }
  /** the unit stays as it is (running or not); only its links go (sysctr apply, enabled: false) */
  disable(unit: string) {
    return this.ctl(['disable', '--no-reload', unit]);
  }
  /** `systemctl is-enabled`'s word for the unit: enabled, disabled, static, masked, ... */
  async enablement(unit: string): Promise<string> {
    const r = await this.ctl(['is-enabled', unit], true);
    return r.stdout.trim().split('\n')[0] ?? '';
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

  /**
   * Load, active and sub state (no Result) of every unit from one `systemctl list-units`: ~5 ms for
   * 20 units, where `show` costs ~1 ms a unit (systemctl fetches every property of each). A unit
   * systemd has not loaded is not listed: it is inactive (show loads it only to say so). Empty when
   * systemd cannot be reached; names that list-units would read as globs are asked with show.
   */
  async states(units: string[]): Promise<Map<string, UnitState>> {
    if (units.length === 0 || !units.every((u) => /^[\w.@:-]+$/.test(u))) return this.show(units);
    const r = await this.ctl(['list-units', '--all', '--plain', '--no-legend', '--no-pager', '--', ...units], true);
    const map = new Map<string, UnitState>();
    if (r.exitCode !== 0) return map;
    for (const s of parseListUnits(r.stdout, units)) map.set(s.id, s);
    for (const id of units) if (!map.has(id)) map.set(id, { id, loadState: '', activeState: 'inactive', subState: 'dead', result: '' });
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

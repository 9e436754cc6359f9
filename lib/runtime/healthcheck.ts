/**
 * A container's health check (docs/health.md): from manifest.json `healthcheck`, or else from the
 * image config's Docker `Healthcheck` (what `podman build`/`buildah` write with --format docker).
 * Pure: parsing and the arithmetic of the update gate; running it is lib/deploy/health.ts.
 */

export interface HealthCheck {
  /** argv run with `runc exec` (a shell form is already ['/bin/sh', '-c', CMD]) */
  cmd: string[];
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  retries: number;
  /** where it was declared */
  source: 'manifest' | 'image';
}

/** Docker's defaults, so an image behaves here as it does under docker/podman. */
export const HEALTH_DEFAULTS = { intervalMs: 30_000, timeoutMs: 30_000, startPeriodMs: 0, retries: 3 };

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export class HealthcheckError extends Error {
  constructor(
    /** where in manifest.json (healthcheck.interval, ...) or the image config */
    readonly where: string,
    message: string,
  ) {
    super(`${where}: ${message}`);
    this.name = 'HealthcheckError';
  }
}

/**
 * Milliseconds from a duration: a number of seconds (5, 0.5, "5") or Go-style units ("5s", "1m30s",
 * "500ms", "1h"), which is how Docker and podman print them.
 */
export function parseDuration(v: unknown, where: string): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0) throw new HealthcheckError(where, `${v} is not a duration (seconds, 0 or more)`);
    return Math.round(v * 1000);
  }
  if (typeof v !== 'string') throw new HealthcheckError(where, `expected a duration (seconds, or like "5s", "1m30s"), got ${JSON.stringify(v)}`);
  const s = v.trim();
  if (/^[0-9]+(\.[0-9]+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const part = /([0-9]+(?:\.[0-9]+)?)(ns|us|ms|s|m|h)/y;
  let ms = 0;
  let at = 0;
  while (at < s.length) {
    part.lastIndex = at;
    const m = part.exec(s);
    if (!m) break;
    ms += Number(m[1]) * UNIT_MS[m[2]];
    at = part.lastIndex;
  }
  if (!s || at !== s.length) throw new HealthcheckError(where, `"${v}" is not a duration: write seconds (30) or a number with a unit (500ms, 5s, 1m30s, 1h)`);
  return Math.round(ms);
}

function positiveDuration(v: unknown, where: string, dflt: number): number {
  if (v === undefined) return dflt;
  const ms = parseDuration(v, where);
  // Docker: 0 means "the default"; a positive value under 1 ms cannot be waited for
  if (ms === 0) return dflt;
  return ms;
}

/** manifest.json `healthcheck`, checked (throws HealthcheckError naming the member). */
export function healthFromManifest(raw: unknown): HealthCheck {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new HealthcheckError('healthcheck', 'expected an object with at least "cmd"');
  const h = raw as Record<string, unknown>;
  let cmd: string[];
  if (typeof h.cmd === 'string') {
    if (!h.cmd.trim()) throw new HealthcheckError('healthcheck.cmd', 'is empty: give the command to run in the container');
    cmd = ['/bin/sh', '-c', h.cmd];
  } else if (Array.isArray(h.cmd)) {
    if (!h.cmd.length || typeof h.cmd[0] !== 'string' || !h.cmd[0]) throw new HealthcheckError('healthcheck.cmd', 'is empty: give the program and its arguments, e.g. ["/bin/check", "--quiet"]');
    if (!h.cmd.every((a) => typeof a === 'string')) throw new HealthcheckError('healthcheck.cmd', 'every argument must be a string');
    cmd = h.cmd as string[];
  } else {
    throw new HealthcheckError('healthcheck.cmd', 'is missing: give an array (exec form) or a string (run with /bin/sh -c)');
  }
  let retries = HEALTH_DEFAULTS.retries;
  if (h.retries !== undefined) {
    if (typeof h.retries !== 'number' || !Number.isInteger(h.retries) || h.retries < 1) throw new HealthcheckError('healthcheck.retries', `expected a whole number, 1 or more, got ${JSON.stringify(h.retries)}`);
    retries = h.retries;
  }
  return {
    cmd,
    intervalMs: positiveDuration(h.interval, 'healthcheck.interval', HEALTH_DEFAULTS.intervalMs),
    timeoutMs: positiveDuration(h.timeout, 'healthcheck.timeout', HEALTH_DEFAULTS.timeoutMs),
    startPeriodMs: h.startPeriod === undefined ? 0 : parseDuration(h.startPeriod, 'healthcheck.startPeriod'),
    retries,
    source: 'manifest',
  };
}

/** The image config's Docker Healthcheck (durations in nanoseconds), as Docker reads it. */
export interface DockerHealthConfig {
  Test?: string[] | null;
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  Retries?: number;
}

/**
 * The check an image config declares, or undefined for none (no Healthcheck, an empty Test,
 * ["NONE"]). ["CMD", args...] is the exec form, ["CMD-SHELL", "cmd"] runs with /bin/sh -c.
 */
export function healthFromImageConfig(raw: DockerHealthConfig | undefined | null): HealthCheck | undefined {
  const test = raw?.Test;
  if (!raw || !Array.isArray(test) || !test.length || test[0] === 'NONE') return undefined;
  let cmd: string[];
  if (test[0] === 'CMD') cmd = test.slice(1);
  else if (test[0] === 'CMD-SHELL') cmd = test.length > 1 ? ['/bin/sh', '-c', test.slice(1).join(' ')] : [];
  else throw new HealthcheckError('image config Healthcheck.Test', `starts with "${test[0]}": expected "CMD", "CMD-SHELL" or "NONE"`);
  if (!cmd.length || !cmd[0]) throw new HealthcheckError('image config Healthcheck.Test', 'has no command');
  const ns = (v: number | undefined, dflt: number) => (typeof v === 'number' && v > 0 ? Math.round(v / 1e6) : dflt);
  return {
    cmd,
    intervalMs: ns(raw.Interval, HEALTH_DEFAULTS.intervalMs),
    timeoutMs: ns(raw.Timeout, HEALTH_DEFAULTS.timeoutMs),
    startPeriodMs: ns(raw.StartPeriod, 0),
    retries: typeof raw.Retries === 'number' && raw.Retries > 0 ? raw.Retries : HEALTH_DEFAULTS.retries,
    source: 'image',
  };
}

/** manifest.json wins; the image config is read only when the manifest declares no check. */
export function resolveHealthcheck(manifestHealth: unknown, imageHealth: DockerHealthConfig | undefined | null): HealthCheck | undefined {
  if (manifestHealth !== undefined) return healthFromManifest(manifestHealth);
  return healthFromImageConfig(imageHealth);
}

/** How long the update gate waits for a first passing check: startPeriod + retries * interval. */
export function gateWindowMs(h: HealthCheck): number {
  return h.startPeriodMs + h.retries * h.intervalMs;
}

export type GateVerdict = 'healthy' | 'unhealthy' | 'wait';

/**
 * The gate's decision after a check (Docker's rule): a pass is healthy; failures during the start
 * period do not count; `retries` failures in a row after it, or the window run out, is unhealthy.
 */
export function gateVerdict(h: HealthCheck, s: { passed: boolean; elapsedMs: number; failuresAfterStart: number }): GateVerdict {
  if (s.passed) return 'healthy';
  if (s.failuresAfterStart >= h.retries) return 'unhealthy';
  if (s.elapsedMs >= gateWindowMs(h)) return 'unhealthy';
  return 'wait';
}

/** "5s", "1m30s", "250ms": for messages. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = ms / 1000;
  if (s < 60 || !Number.isInteger(s)) return `${Number(s.toFixed(3))}s`;
  const m = Math.floor(s / 60);
  return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
}

/**
 * Health checks (docs/health.md): `sysctr healthcheck NAME` runs a deployment's check once with
 * `runc exec`; the update gate (switch.ts) runs it until it passes or the window runs out. Each
 * result is recorded in the deployment (NAME.N/health, 0600, temp + rename), which is all that
 * `containers list` reads: listing never runs a check.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SysctrError } from '../errors.js';
import { formatDuration, gateVerdict, gateWindowMs, type HealthCheck } from '../runtime/healthcheck.js';
import { resolveRuntime } from '../runtime/check.js';
import { Runc } from '../runtime/runc.js';
import { writeAtomic } from '../systemd/files.js';
import type { Systemd } from '../systemd/systemctl.js';
import type { DeployContext } from './context.js';
import { validateName } from './names.js';
import { containerPaths, liveDeployment, readInfo, type DeploymentInfo } from './state.js';
import { HEALTH_FILE, type HealthRecord } from './health-record.js';
import { unitStatus } from './switch.js';

export interface HealthcheckResult extends HealthRecord {
  name: string;
  deployment: string;
  cmd: string[];
}

const OUTPUT_KEEP = 4096;

/** Runs the check once in the running container NAME and records the result in the deployment. */
export async function checkOnce(ctx: Pick<DeployContext, 'runner' | 'paths'>, name: string, deployment: string, info: DeploymentInfo & { healthcheck: HealthCheck }): Promise<HealthRecord> {
  const runc = new Runc(ctx.runner, resolveRuntime(info.runtime), { root: ctx.paths.runcRoot });
  const t0 = Date.now();
  const r = await runc.execCaptured(name, info.healthcheck.cmd, info.healthcheck.timeoutMs);
  const rec: HealthRecord = {
    status: r.exitCode === 0 && !r.timedOut ? 'healthy' : 'unhealthy',
    exitCode: r.exitCode,
    output: r.timedOut ? `${r.output.slice(0, OUTPUT_KEEP)}${r.output ? '\n' : ''}timed out after ${formatDuration(info.healthcheck.timeoutMs)}, killed` : r.output.slice(0, OUTPUT_KEEP),
    timedOut: r.timedOut,
    at: new Date().toISOString(),
    durationMs: Date.now() - t0,
  };
  // the deployment may have been removed meanwhile (an uninstall waits for no check): then no record
  if (fs.existsSync(deployment)) writeAtomic(path.join(deployment, HEALTH_FILE), JSON.stringify(rec) + '\n', 0o600);
  return rec;
}

/** `sysctr healthcheck NAME`: errors when there is no check or the container is not running. */
export async function runHealthcheck(ctx: Pick<DeployContext, 'runner' | 'paths'>, rawName: string): Promise<HealthcheckResult> {
  const name = validateName(rawName);
  const live = liveDeployment(containerPaths(ctx.paths, name));
  const info = live ? readInfo(live) : undefined;
  if (!live || !info) throw new SysctrError(`${name} is not installed`, { hint: 'see sysctr containers list --all' });
  const h = info.healthcheck;
  if (!h) {
    throw new SysctrError(`${name} has no health check (${info.image} declares none)`, {
      hint: 'declare one in the image: manifest.json "healthcheck": {"cmd": [...]} or a Dockerfile HEALTHCHECK (docs/health.md)',
    });
  }
  const state = await new Runc(ctx.runner, resolveRuntime(info.runtime), { root: ctx.paths.runcRoot }).state(name);
  if (state?.status !== 'running') {
    throw new SysctrError(`${name} is not running${state ? ` (its container is ${state.status})` : ''}: its health check runs in the running container`, { hint: `start it first: sysctr start ${name}` });
  }
  const rec = await checkOnce(ctx, name, live, { ...info, healthcheck: h });
  return { name, deployment: path.basename(live), cmd: h.cmd, ...rec };
}

/**
 * The update gate: runs the new deployment's check (the first at once, then every interval) until
 * one passes; failures during startPeriod do not count, `retries` in a row after it (or
 * startPeriod + retries * interval gone by) fail it, and so does the unit leaving `active`.
 * Returns why it failed, or undefined when the check passed.
 */
export async function healthGate(ctx: Pick<DeployContext, 'runner' | 'paths'>, systemd: Systemd, name: string, deployment: string): Promise<string | undefined> {
  const info = readInfo(deployment);
  const h = info?.healthcheck;
  if (!info || !h) return undefined;
  const unit = `${name}.service`;
  const runc = new Runc(ctx.runner, resolveRuntime(info.runtime), { root: ctx.paths.runcRoot });
  const t0 = Date.now();
  let failures = 0;
  let last: HealthRecord | undefined;
  for (;;) {
    const s = await unitStatus(systemd, unit);
    if (s.activeState !== 'active' || s.subState === 'auto-restart') {
      return `${unit} is ${s.activeState}${s.subState ? ` (${s.subState})` : ''} before its health check passed${last ? ` (last check: ${describe(last)})` : ''}`;
    }
    const running = (await runc.state(name))?.status === 'running';
    last = running ? await checkOnce(ctx, name, deployment, { ...info, healthcheck: h }) : undefined;
    const elapsedMs = Date.now() - t0;
    if (last?.status !== 'healthy' && elapsedMs > h.startPeriodMs) failures++;
    const verdict = gateVerdict(h, { passed: last?.status === 'healthy', elapsedMs, failuresAfterStart: failures });
    if (verdict === 'healthy') return undefined;
    if (verdict === 'unhealthy') {
      return `${name}'s health check did not pass within ${formatDuration(gateWindowMs(h))} (${failures} failed after the start period; last: ${last ? describe(last) : 'its container was not running'})`;
    }
    await new Promise((res) => setTimeout(res, Math.max(0, Math.min(h.intervalMs, gateWindowMs(h) - elapsedMs + 1))));
  }
}

function describe(r: HealthRecord): string {
  const out = r.output.trim().split('\n').slice(-3).join(' / ').slice(0, 200);
  return `${r.timedOut ? 'timed out' : `exit ${r.exitCode}`}${out ? `: ${out}` : ''}`;
}

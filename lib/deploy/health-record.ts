/**
 * The recorded result of a deployment's health check (NAME.N/health), apart from the code that
 * runs checks (health.ts): `containers list` reads only this, and must not load the switch code.
 */
import { readDeploymentJson, type DeploymentInfo } from './state.js';

export type HealthStatus = 'healthy' | 'unhealthy' | 'starting' | '-';

export interface HealthRecord {
  status: 'healthy' | 'unhealthy';
  exitCode: number;
  /** stdout and stderr of the check, the first 4 KiB */
  output: string;
  timedOut: boolean;
  at: string;
  durationMs: number;
}

/** NAME.N/health: the last result (a deployment reused for an update must not keep it: update.ts) */
export const HEALTH_FILE = 'health';

export function readHealth(deployment: string): HealthRecord | undefined {
  return readDeploymentJson<HealthRecord>(deployment, HEALTH_FILE);
}

/** What `containers list` shows: the last recorded result; `starting` before the first; `-` for no check. */
export function healthOf(deployment: string, info: DeploymentInfo | undefined): HealthStatus {
  if (!info?.healthcheck) return '-';
  return readHealth(deployment)?.status ?? 'starting';
}

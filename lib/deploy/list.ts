/**
 * containers list: every installed container (a ROOT/NAME link) with its deployment's info and its
 * state from systemd. One `systemctl show` for all units, so a listing costs one process spawn; it
 * starts before the deployment files are read, which are read while it runs.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Paths } from '../paths.js';
import type { Runner } from '../proc.js';
import { Systemd, containerState } from '../systemd/systemctl.js';
import { policyOf, type AutoUpdatePolicy } from './auto-update/policy.js';
import { healthOf, type HealthStatus } from './health-record.js';
import { containerPaths, installedNames, liveDeployment, readInfo, readJournal } from './state.js';

export interface ContainerRow {
  name: string;
  image: string;
  imageId: string;
  /** the container's process args, joined */
  command: string;
  created: string;
  /** running, inactive, failed (systemd's activating, deactivating...), unknown without systemd */
  state: string;
  /** systemd's ActiveState/SubState/Result, for --json (null without systemd or unitDetails) */
  unit: { activeState: string; subState: string; result: string; loadState: string } | null;
  runtime: string;
  /** NAME.0 or NAME.1 */
  deployment: string;
  /** the other deployment (containers rollback NAME goes there), or null */
  rollback: { deployment: string; image: string; imageId: string } | null;
  /** an operation a killed command left half done (the next command for NAME finishes it) */
  pending: string | null;
  /** install --auto-update: registry, local or disabled (docs/auto-update.md) */
  autoUpdate: AutoUpdatePolicy;
  /** the last recorded health check result (health.ts): healthy, unhealthy, starting, '-' for no check */
  health: HealthStatus;
}

function commandOf(deployment: string): string {
  try {
    const cfg = JSON.parse(fs.readFileSync(path.join(deployment, 'config.json'), 'utf8')) as { process?: { args?: string[] } };
    return (cfg.process?.args ?? []).join(' ');
  } catch {
    return '';
  }
}

/**
 * unitDetails false: only `state` from systemd (one cheap `systemctl list-units`; `unit` stays
 * null), for listings that print no more than the state.
 */
export async function listContainers(paths: Paths, runner: Runner, opts: { unitDetails?: boolean } = {}): Promise<ContainerRow[]> {
  const names = installedNames(paths.root);
  // every linked name has a live deployment (only a link removed meanwhile drops out of rows)
  const systemd = new Systemd(runner, paths.user);
  const units = names.map((n) => `${n}.service`);
  const asked = opts.unitDetails === false ? systemd.states(units) : systemd.show(units);
  // a read error below is the one reported: this one must not become an unhandled rejection
  asked.catch(() => {});
  const rows: ContainerRow[] = [];
  const noService = new Set<string>();
  for (const name of names) {
    const c = containerPaths(paths, name);
    const live = liveDeployment(c);
    if (!live) continue;
    const info = readInfo(live);
    if (info?.noContainerService) noService.add(name);
    const otherDir = c.deployment(live.endsWith('.1') ? 0 : 1);
    const other = readInfo(otherDir);
    rows.push({
      name,
      image: info?.image ?? '',
      imageId: info?.imageId ?? '',
      command: commandOf(live),
      created: info?.created ?? '',
      state: 'unknown',
      unit: null,
      runtime: info?.runtime ?? '',
      deployment: path.basename(live),
      rollback: other ? { deployment: path.basename(otherDir), image: other.image, imageId: other.imageId } : null,
      pending: readJournal(c)?.op ?? null,
      autoUpdate: policyOf(info),
      health: healthOf(live, info),
    });
  }
  const states = await asked;
  for (const r of rows) {
    // manifest.json noContainerService: host files only, there is no unit to ask about
    if (noService.has(r.name)) {
      r.state = 'no service';
      continue;
    }
    const s = states.get(`${r.name}.service`);
    if (!s) continue;
    r.state = containerState(s);
    if (opts.unitDetails !== false) r.unit = { activeState: s.activeState, subState: s.subState, result: s.result, loadState: s.loadState };
  }
  return rows;
}

/**
 * containers list: every installed container (a ROOT/NAME link) with its deployment's info and its
 * state from systemd. One `systemctl show` for all units, so a listing costs one process spawn.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Paths } from '../paths.js';
import type { Runner } from '../proc.js';
import { Systemd, containerState } from '../systemd/systemctl.js';
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
  /** systemd's ActiveState/SubState/Result, for --json */
  unit: { activeState: string; subState: string; result: string; loadState: string } | null;
  runtime: string;
  /** NAME.0 or NAME.1 */
  deployment: string;
  /** the other deployment (containers rollback NAME goes there), or null */
  rollback: { deployment: string; image: string; imageId: string } | null;
  /** an operation a killed command left half done (the next command for NAME finishes it) */
  pending: string | null;
}

function commandOf(deployment: string): string {
  try {
    const cfg = JSON.parse(fs.readFileSync(path.join(deployment, 'config.json'), 'utf8')) as { process?: { args?: string[] } };
    return (cfg.process?.args ?? []).join(' ');
  } catch {
    return '';
  }
}

export async function listContainers(paths: Paths, runner: Runner): Promise<ContainerRow[]> {
  const names = installedNames(paths.root);
  const rows: ContainerRow[] = [];
  for (const name of names) {
    const c = containerPaths(paths, name);
    const live = liveDeployment(c);
    if (!live) continue;
    const info = readInfo(live);
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
    });
  }
  const states = await new Systemd(runner, paths.user).show(rows.map((r) => `${r.name}.service`));
  for (const r of rows) {
    const s = states.get(`${r.name}.service`);
    if (!s) continue;
    r.state = containerState(s);
    r.unit = { activeState: s.activeState, subState: s.subState, result: s.result, loadState: s.loadState };
  }
  return rows;
}

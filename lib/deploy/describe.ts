/**
 * containers info NAME: both deployments of a container - which one is live, which image each
 * holds, the values set, a failed start - and an operation left half done by a killed command.
 */
import path from 'node:path';
import { SysctrError } from '../errors.js';
import type { Paths } from '../paths.js';
import type { Runner } from '../proc.js';
import { Systemd, containerState } from '../systemd/systemctl.js';
import { hostPath, probe, readRecord } from './hostfs-apply.js';
import { matches } from '../hostfs/plan.js';
import { validateName } from './names.js';
import { containerPaths, liveDeployment, readInfo, readJournal } from './state.js';
import { deploymentVolumes, readSnapshot } from './snapshot.js';
import { treeSize, type Volume } from './volumes.js';

export interface DeploymentSummary {
  /** NAME.0 or NAME.1 */
  deployment: string;
  live: boolean;
  image: string;
  imageId: string;
  created: string;
  set: Record<string, string>;
  uuid?: string;
  /** it did not start when an update switched to it (and the update was reverted) */
  failed?: { at: string; reason: string };
}

export interface ContainerDescription {
  name: string;
  state: string;
  live: string;
  deployments: DeploymentSummary[];
  /** an operation a killed command left (the next command for this name finishes it) */
  pending?: string;
  /** the live deployment's host files (/exports/hostfs) and whether they are as sysctr wrote them */
  hostFiles: HostFileStatus[];
  /** the live deployment's volumes; data ones with their size and the last update's snapshot */
  volumes: Array<Volume & { bytes?: number; lastSnapshot?: { taken: string; bytes: number } }>;
}

export interface HostFileStatus {
  /** on the host (with --host-root) */
  path: string;
  /** below /exports/hostfs */
  source: string;
  type: 'file' | 'symlink' | 'directory';
  template: boolean;
  /** as-written: what sysctr wrote; changed: someone changed it (update keeps it); missing */
  state: 'as-written' | 'changed' | 'missing';
}

export function hostFileStatus(paths: Paths, deployment: string): HostFileStatus[] {
  return (readRecord(deployment)?.files ?? []).map((f) => {
    const abs = hostPath(paths, f.path);
    const now = probe(abs);
    const state = now.kind === 'absent' ? 'missing' : matches(f, now) ? 'as-written' : 'changed';
    return { path: abs, source: `hostfs${f.source}`, type: f.type === 'f' ? 'file' : f.type === 'l' ? 'symlink' : 'directory', template: Boolean(f.template), state };
  });
}

export async function describeContainer(paths: Paths, runner: Runner, rawName: string): Promise<ContainerDescription> {
  const name = validateName(rawName);
  const c = containerPaths(paths, name);
  const live = liveDeployment(c);
  if (!live) throw new SysctrError(`${name} is not installed`, { hint: 'see sysctr containers list --all' });
  const deployments: DeploymentSummary[] = [];
  for (const n of [0, 1] as const) {
    const dir = c.deployment(n);
    const info = readInfo(dir) as (ReturnType<typeof readInfo> & { failed?: { at: string; reason: string } }) | undefined;
    if (!info) continue;
    deployments.push({
      deployment: path.basename(dir), live: dir === live, image: info.image, imageId: info.imageId, created: info.created,
      set: info.set, uuid: info.values?.UUID, failed: info.failed,
    });
  }
  const unit = `${name}.service`;
  const noService = readInfo(live)?.noContainerService;
  const state = noService ? 'no service' : containerState((await new Systemd(runner, paths.user).show([unit])).get(unit));
  const snap = readSnapshot(paths.root, name);
  const volumes = deploymentVolumes(live).map((v) => {
    if (v.type !== 'data') return v;
    const s = snap?.volumes.find((x) => x.name === v.name);
    return { ...v, bytes: treeSize(v.hostPath), ...(s ? { lastSnapshot: { taken: snap!.taken, bytes: s.bytes } } : {}) };
  });
  return { name, state, live: path.basename(live), deployments, pending: readJournal(c)?.op, hostFiles: hostFileStatus(paths, live), volumes };
}

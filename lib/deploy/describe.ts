/**
 * containers info NAME: both deployments of a container - which one is live, which image each
 * holds, the values set, a failed start - and an operation left half done by a killed command.
 */
import path from 'node:path';
import { SysctrError } from '../errors.js';
import type { Paths } from '../paths.js';
import type { Runner } from '../proc.js';
import { Systemd, containerState } from '../systemd/systemctl.js';
import { validateName } from './names.js';
import { containerPaths, liveDeployment, readInfo, readJournal } from './state.js';

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
  const state = containerState((await new Systemd(runner, paths.user).show([unit])).get(unit));
  return { name, state, live: path.basename(live), deployments, pending: readJournal(c)?.op };
}

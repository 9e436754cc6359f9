/**
 * The auto-update policy of a container (docs/auto-update.md): kept in its deployment's info, so
 * it travels with the deployment through update and rollback like its values do.
 */
import path from 'node:path';
import { usageError } from '../../errors.js';
import { writeAtomic } from '../../systemd/files.js';
import { containerPaths, installedNames, liveDeployment, readInfo, type DeploymentInfo } from '../state.js';

export const POLICIES = ['registry', 'local', 'disabled'] as const;
export type AutoUpdatePolicy = (typeof POLICIES)[number];

/** The --auto-update value, checked; undefined when the option was not given. */
export function parsePolicy(raw: unknown): AutoUpdatePolicy | undefined {
  if (raw === undefined) return undefined;
  const v = String(raw);
  if ((POLICIES as readonly string[]).includes(v)) return v as AutoUpdatePolicy;
  throw usageError(`--auto-update=${v}: not a policy`, `use --auto-update=registry (follow the tag on its registry), local (a newer image of the same name in the store) or disabled`);
}

export function policyOf(info: Pick<DeploymentInfo, 'autoUpdate'> | undefined): AutoUpdatePolicy {
  return info?.autoUpdate ?? 'disabled';
}

/** The info fields that record a policy: none for disabled, so older infos read the same. */
export function policyField(p: AutoUpdatePolicy | undefined): Pick<DeploymentInfo, 'autoUpdate'> {
  return p && p !== 'disabled' ? { autoUpdate: p } : {};
}

/**
 * Rewrites a deployment's info with another policy (temp file + rename: a crash leaves the old
 * info or the new). Nothing else in the deployment changes. Returns whether it changed.
 */
export function writePolicy(deployment: string, p: AutoUpdatePolicy): boolean {
  const info = readInfo(deployment);
  if (!info || policyOf(info) === p) return false;
  const { autoUpdate: _old, ...rest } = info;
  writeAtomic(path.join(deployment, 'info'), JSON.stringify({ ...rest, ...policyField(p) }, null, 2) + '\n', 0o600);
  return true;
}

/** The installed containers and their policies (the live deployment's), by name. */
export function policies(root: string): Map<string, AutoUpdatePolicy> {
  const out = new Map<string, AutoUpdatePolicy>();
  for (const name of installedNames(root)) {
    const live = liveDeployment(containerPaths({ root }, name));
    out.set(name, policyOf(live ? readInfo(live) : undefined));
  }
  return out;
}

/**
 * `sysctr trust`, like `atomic trust`: read the effective policy per scope, and change it —
 * policy.json and a registries.d file of sysctr's own, each written whole to a temp file and
 * renamed, in the formats skopeo and podman read.
 */
import fs from 'node:fs';
import path from 'node:path';
import { stringify as toYaml, parse as parseYaml } from 'yaml';
import { SysctrError, usageError } from '../errors.js';
import { writeFileAtomic } from '../fsutil.js';
import type { TrustPaths } from '../paths.js';
import { acceptAnythingPolicy, readPolicy, serializePolicy, type Policy, type Requirement } from './policy.js';
import { readRegistriesD, type LookasideConfig } from './registries-d.js';
import { validateScope } from './scope.js';

export type TrustType = 'signedBy' | 'sigstoreSigned' | 'reject' | 'accept';

export interface ScopeView {
  transport: string;
  scope: string;
  requirements: Requirement[];
  lookaside?: LookasideConfig;
}

export interface PolicyView {
  file: string;
  exists: boolean;
  scopes: ScopeView[];
}

/** Every scope of the policy, the default first, with where its signatures are looked for. */
export function showPolicy(paths: TrustPaths): PolicyView {
  const policy = readPolicy(paths.policy, paths.policyExplicit);
  const reg = readRegistriesD(paths.registriesDir);
  const scopes: ScopeView[] = [{ transport: '', scope: 'default', requirements: policy.default, lookaside: reg.defaultDocker }];
  for (const [transport, s] of Object.entries(policy.transports)) {
    for (const [scope, requirements] of Object.entries(s)) {
      scopes.push({ transport, scope, requirements, lookaside: transport === 'docker' ? (reg.docker[scope] ?? undefined) : undefined });
    }
  }
  return { file: paths.policy, exists: policy.file !== undefined, scopes };
}

/** One line for a requirement: its type and keys. */
export function describeRequirement(r: Requirement): string {
  if (r.type === 'signedBy' || r.type === 'sigstoreSigned') {
    const keys = r.keyPath ?? r.keyPaths?.join(', ') ?? 'keyData';
    const id = r.signedIdentity.type === 'matchRepoDigestOrExact' ? '' : ` (signedIdentity ${r.signedIdentity.type})`;
    return `${r.type} ${keys}${id}`;
  }
  return r.type === 'insecureAcceptAnything' ? 'accept (insecureAcceptAnything)' : r.type;
}

/** The policy `trust` edits: the file it will write, else the one in effect now, else accept-anything. */
function loadForEdit(paths: TrustPaths): Policy {
  for (const f of [paths.writePolicy, paths.policy]) {
    const p = readPolicy(f, false);
    if (p.file) return p;
  }
  return acceptAnythingPolicy();
}

/**
 * false: the file already holds this text and is left alone (so a second run reports no change).
 * dryRun: whether it would be written, and nothing is.
 */
function writeIfChanged(file: string, text: string, mode: number, dryRun = false): boolean {
  try {
    if (fs.readFileSync(file, 'utf8') === text) return false;
  } catch {
    // missing or unreadable: written below, which reports what is wrong
  }
  if (!dryRun) writeFileAtomic(file, text, mode);
  return true;
}

function writePolicy(paths: TrustPaths, p: Policy, dryRun = false): boolean {
  return writeIfChanged(paths.writePolicy, serializePolicy(p), 0o644, dryRun);
}

export function setDefault(paths: TrustPaths, what: 'accept' | 'reject', opts: { dryRun?: boolean } = {}): { policy: string; changed: boolean } {
  const p = loadForEdit(paths);
  p.default = [what === 'accept' ? { type: 'insecureAcceptAnything' } : { type: 'reject' }];
  return { policy: paths.writePolicy, changed: writePolicy(paths, p, opts.dryRun) };
}

export interface AddOptions {
  type: TrustType;
  pubkeys?: string[];
  lookaside?: string;
  /** say whether the files would change, write nothing */
  dryRun?: boolean;
}

/** registries.d file sysctr writes for a scope (one per scope, so each can be replaced alone). */
function ourRegistriesFile(dir: string, scope: string): string {
  return path.join(dir, `sysctr-${scope.replace(/[^A-Za-z0-9.-]+/g, '_')}.yaml`);
}

export function addTrust(paths: TrustPaths, scope: string, o: AddOptions): { policy: string; registriesFile?: string; changed: boolean } {
  const why = validateScope('docker', scope);
  if (!scope || why) throw usageError(`"${scope}" is not a registry scope${why ? `: ${why}` : ''}`, 'write REGISTRY[:PORT][/REPOSITORY], e.g. registry.example.org/team');
  const signed = o.type === 'signedBy' || o.type === 'sigstoreSigned';
  const keys = (o.pubkeys ?? []).map((k) => path.resolve(k));
  if (signed && !keys.length) throw usageError(`--type ${o.type} needs --pubkeys FILE`);
  if (!signed && keys.length) throw usageError(`--pubkeys applies to --type signedBy and sigstoreSigned only`);
  for (const k of keys) if (!fs.existsSync(k)) throw usageError(`public key file ${k} does not exist`);
  if (o.lookaside !== undefined && !/^(file|https?):\/\/./.test(o.lookaside)) throw usageError(`--lookaside ${o.lookaside}: write a file://, http:// or https:// URL`);
  // one key: keyPath, which every containers/image reads (skopeo 1.9 knows no keyPaths for sigstoreSigned)
  const keyFields = keys.length === 1 ? { keyPath: keys[0] } : { keyPaths: keys };
  const req: Requirement =
    o.type === 'signedBy'
      ? { type: 'signedBy', keyType: 'GPGKeys', ...keyFields, signedIdentity: { type: 'matchRepoDigestOrExact' } }
      : o.type === 'sigstoreSigned'
        ? { type: 'sigstoreSigned', ...keyFields, signedIdentity: { type: 'matchRepoDigestOrExact' } }
        : o.type === 'reject'
          ? { type: 'reject' }
          : { type: 'insecureAcceptAnything' };
  const p = loadForEdit(paths);
  // registries.d first: a policy that requires signatures before their location is known would refuse
  let registriesFile: string | undefined;
  let changed = false;
  if (o.lookaside !== undefined || o.type === 'sigstoreSigned') {
    const existing = readRegistriesD(paths.writeRegistriesDir).docker[scope];
    const ours = ourRegistriesFile(paths.writeRegistriesDir, scope);
    if (existing && existing.file !== ours) throw new SysctrError(`${existing.file} already configures ${scope}`, { hint: 'edit that file, or remove its entry for this scope' });
    const entry: Record<string, unknown> = existing ? { ...(parseYaml(fs.readFileSync(ours, 'utf8')) as { docker: Record<string, Record<string, unknown>> }).docker[scope] } : {};
    if (o.lookaside !== undefined) entry.lookaside = o.lookaside;
    if (o.type === 'sigstoreSigned') entry['use-sigstore-attachments'] = true;
    changed = writeIfChanged(ours, `# written by sysctr trust add\n${toYaml({ docker: { [scope]: entry } })}`, 0o644, o.dryRun);
    registriesFile = ours;
  }
  p.transports.docker = { ...(p.transports.docker ?? {}), [scope]: [req] };
  changed = writePolicy(paths, p, o.dryRun) || changed;
  return { policy: paths.writePolicy, registriesFile, changed };
}

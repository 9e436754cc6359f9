/**
 * What `images info` shows: the record, the config's essentials, and — read from the image's
 * /exports — the template variables with their defaults and those that must be set.
 */
import { listTreeExports, readTreeExports } from '../rootfs/exports.js';
import { mergedTree } from '../rootfs/merged.js';
import type { ReadView } from '../store/store.js';
import type { ImageRecord } from '../store/types.js';
import { listVariables } from '../template/engine.js';
import { FORCED_VARIABLES, OS_DEFAULT_VARIABLES } from '../template/values.js';
import { renamePath } from '../hostfs/plan.js';
import { hostfsFromTree } from '../hostfs/source.js';
import { imageConfig } from './find.js';
import { declaredVolumeList, type VolumeDecl } from '../rootfs/volume-decl.js';

export interface ImageVariable {
  name: string;
  /** manifest.json defaultValues, when it has one */
  default?: string;
  /** who provides it when nothing is set: 'manifest', 'sysctr' (forced), 'os', or 'required' */
  source: 'manifest' | 'sysctr' | 'os' | 'required';
  /** files that use it */
  files: string[];
}

export interface ImageInfo extends ImageRecord {
  systemContainer: boolean;
  entrypoint?: string[] | null;
  cmd?: string[] | null;
  env?: string[];
  workingDir?: string;
  user?: string;
  exports: string[];
  variables: ImageVariable[];
  /** variables that have no value unless --set */
  required: string[];
  /** /exports/hostfs: what install copies onto the host, and where (renameFiles, not rendered) */
  hostFiles: Array<{ source: string; target: string; type: 'file' | 'symlink' | 'directory'; mode: string; template: boolean }>;
  /** manifest.json noContainerService: host files only, no unit */
  noContainerService: boolean;
  /** declared volumes (manifest.json volumes; a Dockerfile VOLUME under the default config) */
  volumes: VolumeDecl[];
}

const TEMPLATES = ['config.json.template', 'service.template', 'tmpfiles.template'];

/** Call inside a read of the store. */
export function inspectImage(view: ReadView, rec: ImageRecord): ImageInfo {
  const config = imageConfig(view, rec);
  const tree = mergedTree(view, rec);
  const objectPath = (id: string) => view.objects.path(id);
  const exportsFiles = listTreeExports(tree);
  const exportsContent = readTreeExports(tree, objectPath);
  let defaults: Record<string, string> = {};
  let manifest: { renameFiles?: unknown; installedFilesTemplate?: unknown; noContainerService?: unknown } = {};
  if (exportsContent['manifest.json']) {
    try {
      const m = JSON.parse(exportsContent['manifest.json'].toString('utf8'));
      if (m && typeof m.defaultValues === 'object' && m.defaultValues) defaults = m.defaultValues;
      if (m && typeof m === 'object') manifest = m;
    } catch {
      /* a broken manifest.json is lint's and install's to report */
    }
  }
  const uses = new Map<string, string[]>();
  for (const f of TEMPLATES.filter((t) => exportsContent[t])) {
    const text = exportsContent[f].toString('utf8');
    for (const v of listVariables(text)) uses.set(v, [...(uses.get(v) ?? []), f]);
  }
  const renames = new Map<string, string>();
  if (manifest.renameFiles && typeof manifest.renameFiles === 'object') {
    for (const [k, v] of Object.entries(manifest.renameFiles)) {
      if (typeof v !== 'string') continue;
      renames.set(k, v);
      for (const n of listVariables(v)) uses.set(n, [...new Set([...(uses.get(n) ?? []), 'manifest.json'])]);
    }
  }
  const templates = new Set(Array.isArray(manifest.installedFilesTemplate) ? manifest.installedFilesTemplate : []);
  const hostFiles: ImageInfo['hostFiles'] = [];
  for (const e of hostfsFromTree(tree, objectPath)) {
    const target = renamePath(e.source, renames);
    const template = e.type === 'f' && (templates.has(e.source) || templates.has(target));
    if (template) for (const n of listVariables(e.content!.toString('utf8'))) uses.set(n, [...(uses.get(n) ?? []), `hostfs${e.source}`]);
    hostFiles.push({ source: e.source, target, type: e.type === 'f' ? 'file' : e.type === 'l' ? 'symlink' : 'directory', mode: (e.mode & 0o777).toString(8).padStart(4, '0'), template });
  }
  for (const v of Object.keys(defaults)) if (!uses.has(v)) uses.set(v, []);
  let volumes: VolumeDecl[] = [];
  try {
    const defaultConfig = !exportsFiles.includes('config.json.template') && !exportsFiles.includes('config.json');
    volumes = declaredVolumeList(manifest as Record<string, unknown>, config.config?.Volumes, defaultConfig);
  } catch {
    /* clashing volumes are lint's and install's to report */
  }
  for (const v of volumes) if (!uses.has(v.variable)) uses.set(v.variable, []);
  const forced = new Set<string>([...FORCED_VARIABLES, ...volumes.map((v) => v.variable)]);
  const osVars = new Set<string>(OS_DEFAULT_VARIABLES);
  const variables: ImageVariable[] = [...uses.entries()]
    .map(([name, files]) => ({
      name,
      default: defaults[name] !== undefined ? String(defaults[name]) : undefined,
      source: forced.has(name) ? 'sysctr' : defaults[name] !== undefined ? 'manifest' : osVars.has(name) ? 'os' : 'required',
      files,
    }) as ImageVariable)
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  const labels = config.config?.Labels ?? rec.labels ?? {};
  return {
    ...rec,
    labels,
    systemContainer: labels['atomic.type'] === 'system',
    entrypoint: config.config?.Entrypoint,
    cmd: config.config?.Cmd,
    env: config.config?.Env,
    workingDir: config.config?.WorkingDir,
    user: config.config?.User,
    exports: exportsFiles,
    variables,
    required: variables.filter((v) => v.source === 'required').map((v) => v.name),
    hostFiles: hostFiles.sort((a, b) => (a.source < b.source ? -1 : 1)),
    noContainerService: manifest.noContainerService === true,
    volumes,
  };
}

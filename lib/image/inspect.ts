/**
 * What `images info` shows: the record, the config's essentials, and — read from the image's
 * /exports — the template variables with their defaults and those that must be set.
 */
import type { Store } from '../store/store.js';
import type { ImageRecord } from '../store/types.js';
import { listVariables } from '../template/engine.js';
import { FORCED_VARIABLES, OS_DEFAULT_VARIABLES } from '../deploy/values.js';

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
}

const TEMPLATES = ['config.json.template', 'service.template', 'tmpfiles.template'];

export async function inspectImage(store: Store, rec: ImageRecord): Promise<ImageInfo> {
  const config = await store.imageConfig(rec);
  const tree = await store.mergedTree(rec);
  const exportsFiles = await store.listImageDir(rec, 'exports', tree);
  let defaults: Record<string, string> = {};
  if (exportsFiles.includes('manifest.json')) {
    try {
      const m = JSON.parse((await store.readImageFile(rec, 'exports/manifest.json', tree))!.toString('utf8'));
      if (m && typeof m.defaultValues === 'object' && m.defaultValues) defaults = m.defaultValues;
    } catch {
      /* a broken manifest.json is lint's and install's to report */
    }
  }
  const uses = new Map<string, string[]>();
  for (const f of TEMPLATES.filter((t) => exportsFiles.includes(t))) {
    const text = (await store.readImageFile(rec, `exports/${f}`, tree))!.toString('utf8');
    for (const v of listVariables(text)) uses.set(v, [...(uses.get(v) ?? []), f]);
  }
  for (const v of Object.keys(defaults)) if (!uses.has(v)) uses.set(v, []);
  const forced = new Set<string>(FORCED_VARIABLES);
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
  };
}

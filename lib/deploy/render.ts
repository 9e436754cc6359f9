/**
 * Rendering a deployment: config.json, the unit and the tmpfiles conf, from an image's /exports
 * files and the variable values. THE one code path for `sysctr render`, `install` and `update`:
 * everything is checked here, before anything is written, and errors point at file:line:col.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SysctrError } from '../errors.js';
import type { Paths } from '../paths.js';
import type { ImageConfig } from '../image/types.js';
import { execCommands } from '../runtime/commands.js';
import {
  invalidError,
  renderTokens,
  undefinedError,
  undefinedVariables,
  type ParsedTemplate,
  type RenderedText,
  type UndefinedUse,
} from '../template/engine.js';
import { capabilityWarnings, grantableConfig, kernelGrantable, type Grantable } from '../runtime/capabilities.js';
import { parseJsonWithLocations } from '../template/json-locate.js';
import { defaultConfigText } from './default-config.js';
import { defaultUnit } from './default-unit.js';
import { resolveRuntime } from '../runtime/check.js';
import { managerCapabilities } from '../runtime/manager-caps.js';
import { DROPIN_NAME, renderDropIn, stopMinUptimeFrom, stopTimeoutFrom } from '../systemd/dropin.js';
import { withHeader } from '../systemd/files.js';
import { planHostFiles, type PlannedHostEntry } from '../hostfs/plan.js';
import { hostfsFromDir, hostfsFromTree } from '../hostfs/source.js';
import { nameFromImage, validateName } from './names.js';
import { containerPaths } from './state.js';
import { resolveValues } from '../template/values.js';
import { parseTemplates, readManifest, readSourceDir, readTreeExports, usesDetachedForm, type ExportsFiles, type ExportsManifest } from '../rootfs/exports.js';
import { checkConfigJson, type ConfigCheck } from '../runtime/config-check.js';
import { HealthcheckError, resolveHealthcheck, type HealthCheck } from '../runtime/healthcheck.js';
import { rootlessConfigText, rootlessTmpfiles } from '../runtime/rootless.js';
import { rootlessRuntime, type RootlessRuntime } from './rootless.js';
import { forUserManager } from '../systemd/user-install.js';
import { declaredVolumes, volumeValues, withVolumeMounts, type Volume } from './volumes.js';
import { hostIds } from '../userns.js';



export interface RenderInput {
  name: string;
  destdir: string;
  exports: ExportsFiles;
  image?: { name: string; id: string; config?: ImageConfig };
  /** --set values (already parsed) */
  set: Record<string, string>;
  /** values kept from a previous deployment (UUID) */
  keep?: Record<string, string>;
  runtime: string;
  user: boolean;
  hostUid: number;
  hostGid: number;
  /** environment for user-mode directories (XDG_*, HOME); default process.env */
  env?: NodeJS.ProcessEnv;
  /** what the unit's service manager can grant (managerCapabilities); default: all the kernel knows */
  capabilities?: Grantable;
  /** install --rootfs DIR: the root filesystem (its /exports/assets) is there, not in DESTDIR */
  rootfs?: string;
  /** a plain user's container (lib/deploy/rootless.ts): config.json for rootless runc */
  rootless?: RootlessRuntime;
}

export interface Rendered {
  /** rendered config.json text (valid JSON, root.readonly true, root.path 'rootfs', the schema) */
  configJson: string;
  /** rendered unit text (the image's service.template, or the default unit) */
  unit: string;
  /** '' when none or it renders empty */
  tmpfiles: string;
  /** every variable's final value */
  values: Record<string, string>;
  /** the unit uses PIDFILE and EXEC_STOPPOST: the detached runc form (docs/runtime.md) */
  detached: boolean;
  manifest: ExportsManifest;
  /** capabilities left out of config.json, and why, for the commands to print as warnings */
  warnings: string[];
  /** declared volumes (volumes.ts): mounted in configJson, their host paths in values */
  volumes: Volume[];
  /** manifest.json healthcheck, else the image config's (docs/health.md) */
  healthcheck?: HealthCheck;
  /** runc's --root for a user's container (the unit's commands and drop-in use it) */
  runcRoot?: string;
}



function healthcheckOf(manifest: ExportsManifest, config: ImageConfig | undefined): HealthCheck | undefined {
  try {
    return resolveHealthcheck(manifest.healthcheck, config?.config?.Healthcheck);
  } catch (err) {
    if (!(err instanceof HealthcheckError)) throw err;
    const file = err.where.startsWith('image config') ? 'the image config' : 'manifest.json';
    throw new SysctrError(`${file}: ${err.message}`, { hint: 'fix the health check (docs/health.md), or declare a valid one in manifest.json, which wins over the image config\'s' });
  }
}

/** Renders everything install writes; throws SysctrError (file:line:col) on any problem. */
export function renderDeployment(input: RenderInput): Rendered {
  const manifest = readManifest(input.exports);
  const templates = parseTemplates(input.exports);
  for (const [file, t] of templates) if (t.parsed.invalid.length) throw invalidError(file, t.parsed.invalid);

  const grant = input.capabilities ?? kernelGrantable();
  const service = templates.get('service.template');
  const detached = usesDetachedForm(service?.parsed);
  const values = resolveValues({
    name: input.name,
    destdir: input.destdir,
    user: input.user,
    hostUid: input.hostUid,
    hostGid: input.hostGid,
    runtime: input.runtime,
    env: input.env,
    imageName: input.image?.name ?? '',
    imageId: input.image?.id ?? '',
    set: input.set,
    manifestDefaults: manifest.defaultValues,
    keep: input.keep,
    capabilities: grant.names,
  });
  checkHostValues(values, input.runtime);
  // volumes: VOLUME_* forced like DESTDIR; their mounts added to config.json below
  const volumes = declaredVolumes({
    manifest, image: input.image?.config, defaultConfig: !templates.has('config.json.template') && !input.exports['config.json'],
    stateRoot: path.dirname(input.destdir), container: input.name, rootfs: input.rootfs ?? path.join(input.destdir, 'rootfs'),
  });
  Object.assign(values, volumeValues(volumes, input.set));
  Object.assign(
    values,
    execCommands({ name: input.name, runtime: values.RUNTIME, destdir: input.destdir, detached, pidfile: values.PIDFILE, runcRoot: input.rootless?.runcRoot }),
  );

  const missing: UndefinedUse[] = [];
  for (const [file, t] of templates) missing.push(...undefinedVariables(file, t.parsed, values));
  if (missing.length) throw undefinedError(missing);

  const { text: renderedConfig, dropped } = renderConfig(input, templates, values, grant);
  let configJson = withVolumeMounts(renderedConfig, volumes);
  const warnings = capabilityWarnings(dropped, grant, cutFromAll(templates, input.set, manifest.defaultValues, grant));
  if (input.rootless) {
    const r = rootlessConfigText(configJson, { name: input.name, uid: input.rootless.uid, mappings: input.rootless.mappings, values });
    configJson = r.text;
    warnings.push(...r.warnings);
  }
  let unit = service ? renderTokens('service.template', service.parsed, values, { context: 'systemd' }).text : defaultUnit(values, { user: input.user });
  if (service && input.user) {
    const u = forUserManager(unit);
    unit = u.text;
    if (u.replaced.length) warnings.push(`service.template: ${u.replaced.join(', ')} is a target only the system manager has; the user manager enables it with default.target instead`);
  }
  const tmpl = templates.get('tmpfiles.template');
  const tmpfilesText = tmpl ? renderTokens('tmpfiles.template', tmpl.parsed, values, { context: 'systemd' }).text : '';
  const tmpfiles = tmpfilesText.trim() === '' ? '' : input.rootless ? rootlessTmpfiles(tmpfilesText) : tmpfilesText;
  const healthcheck = healthcheckOf(manifest, input.image?.config);
  return { configJson, unit, tmpfiles, values, detached, manifest, warnings, volumes, runcRoot: input.rootless?.runcRoot, ...(healthcheck ? { healthcheck } : {}) };
}

/**
 * Values that sysctr itself puts on host command lines and in its drop-in: RUNTIME is the program
 * ExecStart runs on the host, so one from --set or a manifest default passes the checks --runtime
 * does; PIDFILE goes into the drop-in, where a line break would add directives.
 */
function checkHostValues(values: Record<string, string>, runtime: string): void {
  if (values.RUNTIME !== runtime) {
    try {
      values.RUNTIME = resolveRuntime(values.RUNTIME);
    } catch (err) {
      if (!(err instanceof SysctrError)) throw err;
      throw new SysctrError(`RUNTIME (from --set or the image's manifest.json): ${err.message.replace(/^--runtime /, '')}`, {
        hint: 'RUNTIME names the OCI runtime sysctr runs on the host; give it with --runtime PATH, or leave it unset',
      });
    }
  }
  if (/[\u0000-\u001f\u007f%]/.test(values.PIDFILE)) {
    throw new SysctrError(`the value of PIDFILE (${JSON.stringify(values.PIDFILE)}) has a control character or a % in it; refused`, {
      hint: 'PIDFILE is a path; give it as one (--set PIDFILE=/run/NAME.pid)',
    });
  }
}

/** The kernel's capabilities that ALL_PROCESS_CAPABILITIES left out, when a template uses its default value. */
function cutFromAll(templates: Map<string, { parsed: ParsedTemplate }>, set: Record<string, string>, defaults: Record<string, string>, g: Grantable): string[] {
  const k = 'ALL_PROCESS_CAPABILITIES';
  if (Object.hasOwn(set, k) || Object.hasOwn(defaults, k)) return [];
  const used = [...templates.values()].some((t) => t.parsed.tokens.some((tok) => tok.kind === 'var' && tok.name === k));
  return used ? g.kernel.filter((c) => !g.names.includes(c)) : [];
}

/** config.json as rendered and checked, without the capabilities the container cannot get. */
function renderConfig(
  input: RenderInput,
  templates: Map<string, { text: string; parsed: ParsedTemplate }>,
  values: Record<string, string>,
  grant: Grantable,
): ReturnType<typeof grantableConfig> {
  const t = templates.get('config.json.template');
  let text: string;
  let file: string;
  let source: RenderedText | undefined;
  if (t) {
    file = 'config.json.template';
    source = renderTokens(file, t.parsed, values, { context: 'json' });
    text = source.text;
  } else if (input.exports['config.json']) {
    file = 'config.json';
    text = input.exports['config.json'].toString('utf8');
  } else {
    const generated = defaultConfigText({ name: input.name, image: input.image?.config });
    return grantableConfig(generated, parseJsonWithLocations(generated), grant);
  }
  const { doc, problems } = checkConfigJson(text, source);
  if (problems.length) {
    const p = problems[0];
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''}; sysctr lint lists them all)` : '';
    throw new SysctrError(`${file}:${p.line}:${p.col}: config.json: ${p.message}${more}`, {
      hint: source ? substitutedHint(source, p) : undefined,
    });
  }
  return grantableConfig(text, doc!, grant);
}

/** When the problem sits on a placeholder, the value put there is the likely cause. */
function substitutedHint(source: RenderedText, p: ConfigCheck): string | undefined {
  const seg = source.segments.find((s) => s.token.kind === 'var' && s.token.line === p.line && s.token.col === p.col);
  if (seg && seg.token.kind === 'var') return `the value substituted for ${seg.token.raw} there breaks config.json; check --set ${seg.token.name}=... or the default`;
  return undefined;
}

// ---- rendering what a user names: an image source directory, or an image in the store ----------


/**
 * The files install writes from a rendering, as [path, content], paths relative to where they go
 * (config.json in the deployment; the unit, its drop-in and the tmpfiles conf in their dirs).
 * The same helpers install uses (header, drop-in), so `render` shows the same bytes.
 */
export function installedFiles(name: string, rendered: Rendered): Array<[string, string]> {
  const files: Array<[string, string]> = [
    ['config.json', rendered.configJson],
    [`${name}.service`, withHeader(name, rendered.unit)],
    [
      `${name}.service.d/${DROPIN_NAME}`,
      renderDropIn({
        name, runtime: rendered.values.RUNTIME, unit: rendered.unit, detached: rendered.detached,
        pidfile: rendered.values.PIDFILE, runcRoot: rendered.runcRoot, stopTimeout: stopTimeoutFrom(rendered.values), stopMinUptime: stopMinUptimeFrom(rendered.values),
      }),
    ],
  ];
  if (rendered.tmpfiles) files.push([`${name}.conf`, rendered.tmpfiles]);
  return files;
}

export interface RenderSourceOptions {
  name?: string;
  set: Record<string, string>;
  /** --runtime as given (a path or a name looked up in PATH; default runc) */
  runtime?: string;
  paths: Paths;
  env?: NodeJS.ProcessEnv;
}

export interface RenderedSource {
  name: string;
  rendered: Rendered;
  /** what install writes, in order (see installedFiles); rendered host files as host/PATH */
  files: Array<[string, string]>;
  /** every host file (/exports/hostfs) where install puts it */
  hostFiles: PlannedHostEntry[];
}

/** Renders a source directory or a stored image exactly as install would, writing nothing. */
export async function renderSource(source: string, o: RenderSourceOptions): Promise<RenderedSource> {
  if (o.name !== undefined) validateName(o.name);
  const runtime = resolveRuntime(o.runtime);
  let exportsFiles: ExportsFiles;
  let image: RenderInput['image'];
  let name: string;
  let hostEntries: () => ReturnType<typeof hostfsFromDir>;
  if (fs.existsSync(source) && fs.statSync(source).isDirectory()) {
    exportsFiles = readSourceDir(source);
    // hostfs/ beside the exports files (at the top, or in exports/)
    hostEntries = () => (fs.existsSync(path.join(source, 'hostfs')) ? hostfsFromDir(source, 'hostfs') : hostfsFromDir(source));
    name = validateName(o.name ?? path.basename(path.resolve(source)));
  } else {
    if (!fs.existsSync(o.paths.store)) {
      throw new SysctrError(`${source} is neither a directory nor an image in the store (the store at ${o.paths.store} is empty)`, {
        hint: 'render an image source directory, or pull the image first (sysctr pull ...)',
      });
    }
    // loaded here: `render DIR` and lint do not need the store
    const { Store } = await import('../store/store.js');
    const { imageConfig, resolveImage } = await import('../image/find.js');
    const { mergedTree } = await import('../rootfs/merged.js');
    const store = Store.open(o.paths.store);
    const got = await store.read((view) => {
      const rec = resolveImage(view, source);
      const tree = mergedTree(view, rec);
      const objectPath = (id: string) => view.objects.path(id);
      return { rec, exportsFiles: readTreeExports(tree, objectPath), config: imageConfig(view, rec), entries: hostfsFromTree(tree, objectPath) };
    });
    exportsFiles = got.exportsFiles;
    image = { name: got.rec.name, id: got.rec.id, config: got.config };
    hostEntries = () => got.entries;
    name = validateName(o.name ?? nameFromImage(got.rec.name));
  }
  const rendered = renderDeployment({
    name,
    destdir: containerPaths(o.paths, name).deployment(0),
    exports: exportsFiles,
    image,
    set: o.set,
    runtime,
    user: o.paths.user,
    hostUid: hostIds().uid,
    hostGid: hostIds().gid,
    env: o.env,
    capabilities: managerCapabilities({ user: o.paths.user, uid: hostIds().uid }),
    rootless: rootlessRuntime(o.paths),
  });
  const hostFiles = planHostFiles({
    entries: hostEntries(), manifest: rendered.manifest as { renameFiles?: Record<string, string>; installedFilesTemplate?: string[] },
    manifestText: exportsFiles['manifest.json']?.toString('utf8'), values: rendered.values, hostRoot: o.paths.hostRoot, stateRoot: o.paths.root,
  });
  const templates = hostFiles.filter((h) => h.template).map((h): [string, string] => [`host${h.path}`, h.content!.toString('utf8')]);
  return { name, rendered, files: [...installedFiles(name, rendered), ...templates], hostFiles };
}

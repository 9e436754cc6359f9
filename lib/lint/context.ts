/**
 * What every rule gets: the files of one image source directory, parsed once, and the values a
 * template renders with for linting (manifest defaults, OS defaults, placeholders for the forced
 * variables).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseTemplates, readExportsDir, sourceExportsPrefix, usesDetachedForm, type ExportsFiles } from '../rootfs/exports.js';
import { resolveValues } from '../template/values.js';
import { volumeVariable } from '../rootfs/volume-decl.js';
import { kernelCapabilities } from '../runtime/capabilities.js';
import { resolveRuntime } from '../runtime/check.js';
import { execCommands } from '../runtime/commands.js';
import type { ParsedTemplate } from '../template/engine.js';
import { JsonSyntaxError, parseJsonWithLocations, type JsonDocument } from '../template/json-locate.js';
import type { RawFinding } from './types.js';

export interface LintContext {
  dir: string;
  /** where the exports files are, relative to dir: '' or 'exports/' */
  exportsPrefix: string;
  exports: ExportsFiles;
  /** text of each exports file present */
  texts: Map<string, string>;
  dockerfile?: string;
  templates: Map<string, { text: string; parsed: ParsedTemplate }>;
  manifestDoc?: JsonDocument;
  manifestSyntaxError?: JsonSyntaxError;
  defaultValues: Record<string, string>;
  /** values to render with: forced placeholders, OS defaults, manifest defaults */
  values: Record<string, string>;
  detached: boolean;
  /** a program that exists, standing in for the runtime in rendered units */
  runtime: string;
  name: string;
}

/** The file name a finding is reported under, relative to the linted directory. */
export function rel(ctx: LintContext, exportsFile: string): string {
  return ctx.exportsPrefix + exportsFile;
}

export function finding(file: string, line: number, col: number, rule: string, message: string): RawFinding {
  return { file, line, col, rule, message };
}

/** runc as install would find it; /bin/true when it is not installed (lint does not run it). */
function lintRuntime(): string {
  try {
    return resolveRuntime(undefined);
  } catch {
    return '/bin/true';
  }
}

export function loadContext(dir: string): LintContext {
  const exportsPrefix = sourceExportsPrefix(dir);
  const exports = readExportsDir(path.join(dir, exportsPrefix));
  const texts = new Map(Object.entries(exports).map(([f, buf]) => [f, buf.toString('utf8')]));
  const dockerPath = path.join(dir, 'Dockerfile');
  const dockerfile = fs.existsSync(dockerPath) ? fs.readFileSync(dockerPath, 'utf8') : undefined;

  let manifestDoc: JsonDocument | undefined;
  let manifestSyntaxError: JsonSyntaxError | undefined;
  const manifestText = texts.get('manifest.json');
  if (manifestText !== undefined) {
    try {
      manifestDoc = parseJsonWithLocations(manifestText);
    } catch (err) {
      if (!(err instanceof JsonSyntaxError)) throw err;
      manifestSyntaxError = err;
    }
  }
  const dv = (manifestDoc?.value as { defaultValues?: unknown } | undefined)?.defaultValues;
  const defaultValues: Record<string, string> = {};
  if (dv && typeof dv === 'object' && !Array.isArray(dv)) {
    // a non-string default is reported by manifest-schema; count it as a default here, not twice
    for (const [k, v] of Object.entries(dv)) if (v !== null && typeof v !== 'object') defaultValues[k] = String(v);
  }

  const templates = parseTemplates(exports);
  const detached = usesDetachedForm(templates.get('service.template')?.parsed);
  const name = path.basename(path.resolve(dir)).replace(/[^A-Za-z0-9_.-]/g, '-') || 'image';
  const runtime = lintRuntime();
  const values = resolveValues({
    name,
    destdir: `/var/lib/containers/sysctr/${name}.0`,
    user: false,
    hostUid: 0,
    hostGid: 0,
    runtime,
    imageName: `lint/${name}:latest`,
    imageId: 'sha256:' + '0'.repeat(64),
    set: {},
    manifestDefaults: defaultValues,
    env: {},
    capabilities: kernelCapabilities(),
  });
  Object.assign(values, execCommands({ name, runtime: values.RUNTIME, destdir: values.DESTDIR, detached, pidfile: values.PIDFILE }));
  // declared volumes' VOLUME_* (forced at install: lib/deploy/volumes.ts), so templates may use them
  for (const v of lintVolumes(manifestDoc?.value)) values[volumeVariable(v)] = `/var/lib/containers/sysctr/volumes/${name}/${v}`;
  return { dir, exportsPrefix, exports, texts, dockerfile, templates, manifestDoc, manifestSyntaxError, defaultValues, values, detached, runtime, name };
}

/** The volume names manifest.json declares (whatever their shape: manifest-schema reports that). */
export function lintVolumes(manifest: unknown): string[] {
  const v = (manifest as { volumes?: unknown } | undefined)?.volumes;
  return v && typeof v === 'object' && !Array.isArray(v) ? Object.keys(v) : [];
}

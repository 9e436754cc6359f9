/** Rules over the directory as a whole, the template syntax, variables and manifest.json. */
import fs from 'node:fs';
import path from 'node:path';
import { FORCED_VARIABLES, isForced } from '../template/values.js';
import { listVariables, positionAt } from '../template/engine.js';
import { locatePointer } from '../template/json-locate.js';
import { pointerToPath, validateAgainst } from '../template/schemas.js';
import { finding, rel, type LintContext } from './context.js';
import type { RawFinding } from './types.js';

const KNOWN_MANIFEST_KEYS = ['version', 'defaultValues', 'noContainerService', 'renameFiles', 'installedFilesTemplate', 'useLinks', 'volumes', 'healthcheck'];

export function checkTemplates(ctx: LintContext): RawFinding[] {
  const out: RawFinding[] = [];
  if (ctx.texts.size === 0 && ctx.dockerfile === undefined) {
    out.push(finding('.', 1, 1, 'exports-missing', 'no config.json.template, manifest.json, service.template, tmpfiles.template or Dockerfile here: is this an image source directory?'));
    return out;
  }
  if (ctx.texts.has('config.json') && !ctx.texts.has('config.json.template')) {
    out.push(finding(rel(ctx, 'config.json'), 1, 1, 'exports-literal-config', 'a literal config.json: nothing in it can vary per installation; use config.json.template'));
  }
  for (const [file, t] of ctx.templates) {
    for (const bad of t.parsed.invalid) out.push(finding(rel(ctx, file), bad.line, bad.col, 'template-invalid-placeholder', bad.message));
    // every use: each is a place the author may want to change
    for (const tok of t.parsed.tokens) {
      if (tok.kind !== 'var' || Object.hasOwn(ctx.values, tok.name)) continue;
      out.push(finding(rel(ctx, file), tok.line, tok.col, 'template-undefined-variable',
        `variable ${tok.name} has no default: install fails unless --set ${tok.name}=... is given; add it to manifest.json defaultValues`));
    }
  }
  out.push(...checkManifest(ctx));
  return out;
}

function checkManifest(ctx: LintContext): RawFinding[] {
  const text = ctx.texts.get('manifest.json');
  if (text === undefined) return [];
  const file = rel(ctx, 'manifest.json');
  if (ctx.manifestSyntaxError) {
    const p = positionAt(text, ctx.manifestSyntaxError.offset);
    return [finding(file, p.line, p.col, 'json-syntax', `manifest.json is not valid JSON: ${ctx.manifestSyntaxError.message}`)];
  }
  const doc = ctx.manifestDoc!;
  const out: RawFinding[] = [];
  const at = (ptr: string, prefer: 'key' | 'value' = 'key') => positionAt(text, locatePointer(doc, ptr, prefer));
  for (const v of validateAgainst('manifest', doc.value)) {
    const p = at(v.pointer, v.member ? 'key' : 'value');
    out.push(finding(file, p.line, p.col, 'manifest-schema', `${pointerToPath(v.pointer)} ${v.message}`));
  }
  const m = doc.value;
  if (!m || typeof m !== 'object' || Array.isArray(m)) return out;
  for (const key of Object.keys(m)) {
    if (KNOWN_MANIFEST_KEYS.includes(key)) continue;
    const p = at(`/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`);
    out.push(finding(file, p.line, p.col, 'manifest-unknown-key', `unknown member "${key}" (sysctr knows ${KNOWN_MANIFEST_KEYS.join(', ')})`));
  }
  const dv = (m as { defaultValues?: unknown }).defaultValues;
  if (!dv || typeof dv !== 'object' || Array.isArray(dv)) return out;
  const used = new Set<string>();
  for (const t of ctx.templates.values()) for (const n of listVariables(t.parsed)) used.add(n);
  // renameFiles targets are templates too
  const rename = (m as { renameFiles?: unknown }).renameFiles;
  if (rename && typeof rename === 'object') for (const v of Object.values(rename)) if (typeof v === 'string') for (const n of listVariables(v)) used.add(n);
  // files listed in installedFilesTemplate are templates too; when hostfs/ is not in the source
  // dir (a Dockerfile RUN makes it), lint cannot see them: do not guess
  const hostTemplates = (m as { installedFilesTemplate?: unknown }).installedFilesTemplate;
  let cannotTell = false;
  if (Array.isArray(hostTemplates)) {
    for (const entry of hostTemplates) {
      const file = typeof entry === 'string' ? path.join(ctx.dir, ctx.exportsPrefix, 'hostfs', entry) : '';
      if (file && fs.existsSync(file) && fs.statSync(file).isFile()) for (const n of listVariables(fs.readFileSync(file, 'utf8'))) used.add(n);
      else cannotTell = true;
    }
  }
  for (const key of Object.keys(dv)) {
    const p = at(`/defaultValues/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`);
    if (isForced(key)) {
      out.push(finding(file, p.line, p.col, 'manifest-forced-default', `defaultValues.${key} is ignored: sysctr always sets ${key} (${FORCED_VARIABLES.join(', ')})`));
    } else if (!used.has(key) && !cannotTell) {
      out.push(finding(file, p.line, p.col, 'manifest-unused-default', `defaultValues.${key} is not used by any template`));
    }
  }
  return out;
}

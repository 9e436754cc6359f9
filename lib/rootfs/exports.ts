/**
 * An image's /exports files: which ones sysctr reads, read from an image source directory, and
 * parsed (manifest.json checked against its schema, the templates tokenised).
 */
import fs from 'node:fs';
import path from 'node:path';
import { SysctrError } from '../errors.js';
import { parseTemplate, positionAt, type ParsedTemplate } from '../template/engine.js';
import { JsonSyntaxError, locatePointer, parseJsonWithLocations, type JsonDocument } from '../template/json-locate.js';
import { pointerToPath, validateAgainst } from '../template/schemas.js';

/** manifest.json as read: its defaults (always present) and whatever else it declares. */
export interface ExportsManifest {
  defaultValues: Record<string, string>;
  noContainerService?: boolean;
  [k: string]: unknown;
}

export interface ExportsFiles {
  [file: string]: Buffer;
}

export const EXPORT_FILES = ['config.json.template', 'config.json', 'manifest.json', 'service.template', 'tmpfiles.template'] as const;

const TEMPLATE_FILES = ['config.json.template', 'service.template', 'tmpfiles.template'] as const;

/** Parses and schema-checks manifest.json (absent: no defaults). */
export function readManifest(exportsFiles: ExportsFiles): ExportsManifest {
  const buf = exportsFiles['manifest.json'];
  if (!buf) return { defaultValues: {} };
  const text = buf.toString('utf8');
  let doc: JsonDocument;
  try {
    doc = parseJsonWithLocations(text);
  } catch (err) {
    if (!(err instanceof JsonSyntaxError)) throw err;
    const p = positionAt(text, err.offset);
    throw new SysctrError(`manifest.json:${p.line}:${p.col}: not valid JSON: ${err.message}`, { hint: 'fix the JSON syntax in the image\'s manifest.json' });
  }
  const violations = validateAgainst('manifest', doc.value);
  if (violations.length) {
    const v = violations[0];
    const p = positionAt(text, locatePointer(doc, v.pointer, v.member ? 'key' : 'value'));
    throw new SysctrError(`manifest.json:${p.line}:${p.col}: ${pointerToPath(v.pointer)} ${v.message}`, {
      hint: v.pointer.startsWith('/volumes')
        ? 'volumes maps names ([A-Za-z0-9_-]) to {"type": "data" or "assets", "mount": "/absolute/path", "snapshot": true or false}'
        : 'defaultValues must map variable names to strings (write numbers and booleans in quotes)',
    });
  }
  const m = doc.value as Record<string, unknown>;
  return { ...m, defaultValues: (m.defaultValues as Record<string, string> | undefined) ?? {} };
}

/** The unit template uses PIDFILE and EXEC_STOPPOST ($X or ${X}): run runc detached. */
export function usesDetachedForm(serviceTemplate: ParsedTemplate | undefined): boolean {
  if (!serviceTemplate) return false;
  const names = new Set(serviceTemplate.tokens.flatMap((t) => (t.kind === 'var' ? [t.name] : [])));
  return names.has('PIDFILE') && names.has('EXEC_STOPPOST');
}

/** The parsed templates present in an image's exports. */
export function parseTemplates(exportsFiles: ExportsFiles): Map<string, { text: string; parsed: ParsedTemplate }> {
  const out = new Map<string, { text: string; parsed: ParsedTemplate }>();
  for (const f of TEMPLATE_FILES) {
    const buf = exportsFiles[f];
    if (buf) {
      const text = buf.toString('utf8');
      out.set(f, { text, parsed: parseTemplate(text) });
    }
  }
  return out;
}

/** The exports files of an image source dir: at its top (next to the Dockerfile) or in exports/. */
export function readSourceDir(dir: string): ExportsFiles {
  const top = EXPORT_FILES.some((f) => fs.existsSync(path.join(dir, f)));
  const base = !top && fs.existsSync(path.join(dir, 'exports')) ? path.join(dir, 'exports') : dir;
  const out: ExportsFiles = {};
  for (const f of EXPORT_FILES) {
    const p = path.join(base, f);
    if (fs.existsSync(p) && fs.statSync(p).isFile()) out[f] = fs.readFileSync(p);
  }
  return out;
}

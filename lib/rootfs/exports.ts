/**
 * An image's /exports files: which ones sysctr reads, read from the image's merged tree, a rootfs
 * or an image source directory (the one place that reads them), and parsed (manifest.json checked against its schema, the templates tokenised).
 */
import fs from 'node:fs';
import path from 'node:path';
import { SysctrError } from '../errors.js';
import { parseTemplate, positionAt, type ParsedTemplate } from '../template/engine.js';
import { JsonSyntaxError, locatePointer, parseJsonWithLocations, type JsonDocument } from '../template/json-locate.js';
import { pointerToPath, validateAgainst } from '../template/schemas.js';
import type { MergedTree } from './tree.js';

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
      hint: v.pointer.startsWith('/healthcheck')
        ? 'healthcheck is {"cmd": ["prog", "arg"] or "shell command", "interval", "timeout", "startPeriod": seconds or "5s", "1m", "retries": 1 or more} (docs/health.md)'
        : v.pointer.startsWith('/volumes')
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

/** The exports files in one directory (a rootfs's /exports, or a source directory's). */
export function readExportsDir(dir: string): ExportsFiles {
  const out: ExportsFiles = {};
  for (const f of EXPORT_FILES) {
    const p = path.join(dir, f);
    try {
      if (fs.statSync(p).isFile()) out[f] = fs.readFileSync(p);
    } catch {
      /* absent */
    }
  }
  return out;
}

/** Where a source directory keeps its exports files: at its top (next to the Dockerfile) or in exports/. */
export function sourceExportsPrefix(dir: string): '' | 'exports/' {
  if (EXPORT_FILES.some((f) => fs.existsSync(path.join(dir, f)))) return '';
  const sub = path.join(dir, 'exports');
  return fs.existsSync(sub) && fs.statSync(sub).isDirectory() ? 'exports/' : '';
}

/** The exports files of an image source dir. */
export function readSourceDir(dir: string): ExportsFiles {
  return readExportsDir(path.join(dir, sourceExportsPrefix(dir)));
}

/** The exports files of an image, from its merged tree (objectPath: the store view's). */
export function readTreeExports(tree: MergedTree, objectPath: (id: string) => string): ExportsFiles {
  const out: ExportsFiles = {};
  for (const f of EXPORT_FILES) {
    const node = tree.lookup(`exports/${f}`);
    if (!node || node.entry.type !== 'f') continue;
    out[f] = node.entry.size === 0 ? Buffer.alloc(0) : fs.readFileSync(objectPath(node.entry.object!));
  }
  return out;
}

/** Names of every regular file directly in the image's /exports (also ones sysctr does not read). */
export function listTreeExports(tree: MergedTree): string[] {
  const node = tree.lookup('exports');
  if (!node?.children) return [];
  return [...node.children.entries()].filter(([, n]) => n.entry.type === 'f').map(([name]) => name).sort();
}

/**
 * manifest.json's renameFiles and installedFilesTemplate against the hostfs/ directory of the
 * source dir, when it has one (beside the exports files). Images that make hostfs/ in a Dockerfile
 * RUN step have none here: nothing is checked then, since lint cannot see what the build makes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { renamePath, renderRenames } from '../hostfs/plan.js';
import { positionAt } from '../template/engine.js';
import { locatePointer } from '../template/json-locate.js';
import { finding, rel, type LintContext } from './context.js';
import type { RawFinding } from './types.js';

/** Every path below DIR (files, links, directories), as /a/b. */
function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (abs: string, relPath: string) => {
    for (const name of fs.readdirSync(abs)) {
      const p = `${relPath}/${name}`;
      out.push(p);
      const st = fs.lstatSync(path.join(abs, name));
      if (st.isDirectory()) walk(path.join(abs, name), p);
    }
  };
  walk(dir, '');
  return out;
}

const esc = (k: string) => k.replace(/~/g, '~0').replace(/\//g, '~1');

export function checkHostfs(ctx: LintContext): RawFinding[] {
  const hostfs = path.join(ctx.dir, ctx.exportsPrefix, 'hostfs');
  const text = ctx.texts.get('manifest.json');
  const doc = ctx.manifestDoc;
  if (text === undefined || !doc || !fs.existsSync(hostfs) || !fs.statSync(hostfs).isDirectory()) return [];
  const m = doc.value as { renameFiles?: unknown; installedFilesTemplate?: unknown };
  if (!m || typeof m !== 'object') return [];
  const file = rel(ctx, 'manifest.json');
  const hostfsName = rel(ctx, 'hostfs');
  const present = listTree(hostfs);
  const sources = new Set(present);
  const at = (ptr: string) => positionAt(text, locatePointer(doc, ptr, 'key'));
  const out: RawFinding[] = [];
  const rename = m.renameFiles && typeof m.renameFiles === 'object' && !Array.isArray(m.renameFiles) ? (m.renameFiles as Record<string, unknown>) : {};
  for (const key of Object.keys(rename)) {
    if (sources.has(key.replace(/(.)\/+$/, '$1'))) continue;
    const p = at(`/renameFiles/${esc(key)}`);
    out.push(finding(file, p.line, p.col, 'manifest-hostfs-path', `renameFiles: "${key}" is not a path under ${hostfsName}/: nothing is renamed`));
  }
  const list = Array.isArray(m.installedFilesTemplate) ? m.installedFilesTemplate : [];
  // an entry may name the hostfs path or the host path after renameFiles (as Atomic's images do)
  let targets = new Set<string>();
  try {
    const strings = Object.fromEntries(Object.entries(rename).filter((e): e is [string, string] => typeof e[1] === 'string'));
    const renames = renderRenames(text, strings, ctx.values);
    targets = new Set(present.map((s) => renamePath(s, renames)));
  } catch {
    /* a rename that does not render is reported by the template rules */
  }
  list.forEach((entry, i) => {
    if (typeof entry !== 'string' || sources.has(entry) || targets.has(entry)) return;
    const p = positionAt(text, locatePointer(doc, `/installedFilesTemplate/${i}`, 'value'));
    out.push(finding(file, p.line, p.col, 'manifest-hostfs-path', `installedFilesTemplate: "${entry}" is not a file under ${hostfsName}/ (nor its renamed host path): it is not rendered`));
  });
  return out;
}

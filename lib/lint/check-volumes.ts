/**
 * manifest.json `volumes` (docs/volumes.md): an assets volume needs its files in the image
 * (exports/assets/NAME/ beside the exports files), and no two volumes, nor a volume and what the
 * runtime mounts itself, may share a mount point. The shape is manifest-schema's to check.
 */
import fs from 'node:fs';
import path from 'node:path';
import { normalizeMount, RESERVED_MOUNTS } from '../rootfs/volume-decl.js';
import { positionAt } from '../template/engine.js';
import { locatePointer } from '../template/json-locate.js';
import { finding, rel, type LintContext } from './context.js';
import type { RawFinding } from './types.js';


const esc = (k: string) => k.replace(/~/g, '~0').replace(/\//g, '~1');

export function checkVolumes(ctx: LintContext): RawFinding[] {
  const text = ctx.texts.get('manifest.json');
  const doc = ctx.manifestDoc;
  const volumes = (doc?.value as { volumes?: unknown } | undefined)?.volumes;
  if (text === undefined || !doc || !volumes || typeof volumes !== 'object' || Array.isArray(volumes)) return [];
  const file = rel(ctx, 'manifest.json');
  const out: RawFinding[] = [];
  const mounts = new Map<string, string>();
  for (const [name, raw] of Object.entries(volumes as Record<string, unknown>)) {
    const v = raw as { type?: unknown; mount?: unknown };
    if (!v || typeof v !== 'object' || typeof v.mount !== 'string') continue;
    const at = positionAt(text, locatePointer(doc, `/volumes/${esc(name)}`, 'key'));
    const mount = normalizeMount(v.mount);
    const reserved = RESERVED_MOUNTS.find((r) => mount === r || (r !== '/' && mount.startsWith(`${r}/`)));
    if (reserved) out.push(finding(file, at.line, at.col, 'volume-mount', `volume ${name} is mounted at ${mount}, over ${reserved}: the container would not get the ${reserved} it needs`));
    const other = mounts.get(mount);
    if (other) out.push(finding(file, at.line, at.col, 'volume-mount', `volumes ${other} and ${name} are both mounted at ${mount}: install refuses them`));
    mounts.set(mount, name);
    if (v.type === 'assets') {
      const dir = path.join(ctx.dir, ctx.exportsPrefix, 'assets', name);
      if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
        out.push(finding(file, at.line, at.col, 'volume-assets-missing', `the assets volume ${name} has no directory ${rel(ctx, `assets/${name}`)}/: install refuses an image without /exports/assets/${name}/`));
      }
    }
  }
  return out;
}

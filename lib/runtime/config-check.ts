/**
 * What sysctr requires of a rendered config.json beyond valid JSON: a read-only root at `rootfs`,
 * no terminal, and the runtime-config schema. Shared by render (errors) and lint (findings).
 */
import { positionAt, sourcePosition, type RenderedText } from '../template/engine.js';
import { JsonSyntaxError, locatePointer, parseJsonWithLocations, type JsonDocument } from '../template/json-locate.js';
import { pointerToPath, validateAgainst } from '../template/schemas.js';

export interface ConfigCheck {
  /** the lint rule id this problem belongs to */
  rule: 'json-syntax' | 'config-root-readonly' | 'config-root-path' | 'config-terminal' | 'config-schema';
  /** where the problem is in the file the user edits */
  line: number;
  col: number;
  message: string;
}

/**
 * Checks rendered config.json text: valid JSON, then what sysctr requires (read-only root at
 * `rootfs`, no terminal), then the schema. Positions are mapped back through `source` when the
 * text was rendered from a template.
 */
export function checkConfigJson(text: string, source?: RenderedText): { doc?: JsonDocument; problems: ConfigCheck[] } {
  const at = (offset: number) => (source ? sourcePosition(source, offset) : positionAt(text, offset));
  let doc: JsonDocument;
  try {
    doc = parseJsonWithLocations(text);
  } catch (err) {
    if (!(err instanceof JsonSyntaxError)) throw err;
    return { problems: [{ rule: 'json-syntax', ...at(err.offset), message: `not valid JSON${source ? ' after rendering' : ''}: ${err.message}` }] };
  }
  const problems: ConfigCheck[] = [];
  const cfg = doc.value as { root?: { path?: unknown; readonly?: unknown }; process?: { terminal?: unknown } };
  const where = (ptr: string, prefer: 'key' | 'value' = 'value') => at(locatePointer(doc, ptr, prefer));
  if (cfg && typeof cfg === 'object' && cfg.root && typeof cfg.root === 'object') {
    if (cfg.root.readonly !== true) {
      problems.push({ rule: 'config-root-readonly', ...where('/root/readonly'), message: 'root.readonly must be true: sysctr runs the image read-only (set "readonly": true)' });
    }
    if (cfg.root.path !== 'rootfs') {
      problems.push({ rule: 'config-root-path', ...where('/root/path'), message: 'root.path must be "rootfs": the deployment keeps the image there (set "path": "rootfs")' });
    }
  }
  if (cfg?.process && typeof cfg.process === 'object' && cfg.process.terminal === true) {
    problems.push({ rule: 'config-terminal', ...where('/process/terminal'), message: 'process.terminal must be false: a service has no terminal (set "terminal": false)' });
  }
  // a value the rules above already named (e.g. "readonly": "true") is not reported twice
  const named = new Set(problems.map((p) => `${p.line}:${p.col}`));
  for (const v of validateAgainst('runtime-config', doc.value)) {
    const p = where(v.pointer, v.member ? 'key' : 'value');
    if (named.has(`${p.line}:${p.col}`)) continue;
    problems.push({ rule: 'config-schema', ...p, message: `${pointerToPath(v.pointer)} ${v.message}` });
  }
  return { doc, problems };
}

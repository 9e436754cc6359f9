/** Rules over config.json: rendered with the lint values, positions mapped back to the template. */
import { checkConfigJson } from '../runtime/config-check.js';
import { positionAt, renderTokens, sourcePosition, tokenAt, type RenderedText } from '../template/engine.js';
import { locatePointer, type JsonDocument } from '../template/json-locate.js';
import { finding, rel, type LintContext } from './context.js';
import type { RawFinding } from './types.js';

interface Mount {
  type?: unknown;
  source?: unknown;
  destination?: unknown;
  options?: unknown;
}

export function checkConfig(ctx: LintContext): RawFinding[] {
  const tmpl = ctx.templates.get('config.json.template');
  const literal = ctx.texts.get('config.json');
  let file: string;
  let text: string;
  let source: RenderedText | undefined;
  if (tmpl) {
    file = rel(ctx, 'config.json.template');
    // an undefined variable (reported apart) renders as 0: valid inside a string, as a value, in an array
    source = renderTokens(file, tmpl.parsed, ctx.values, { lenient: true, missing: '0' });
    text = source.text;
  } else if (literal !== undefined) {
    file = rel(ctx, 'config.json');
    text = literal;
  } else return [];

  const out: RawFinding[] = [];
  const { doc, problems } = checkConfigJson(text, source);
  // a problem sitting on an undefined variable is that variable's fault, already reported
  const undefinedAt = new Set(
    (tmpl?.parsed.tokens ?? []).flatMap((tok) => (tok.kind === 'var' && !Object.hasOwn(ctx.values, tok.name) ? [`${tok.line}:${tok.col}`] : [])),
  );
  for (const p of problems) if (!undefinedAt.has(`${p.line}:${p.col}`)) out.push(finding(file, p.line, p.col, p.rule, p.message));
  if (!doc) return out;

  const pos = (offset: number) => (source ? sourcePosition(source, offset) : positionAt(text, offset));
  const at = (ptr: string, prefer: 'key' | 'value' = 'key') => pos(locatePointer(doc, ptr, prefer));
  const cfg = doc.value as { process?: Record<string, unknown>; linux?: Record<string, unknown>; mounts?: unknown };
  if (!cfg || typeof cfg !== 'object') return out;

  if (cfg.process && typeof cfg.process === 'object' && !('terminal' in cfg.process)) {
    const p = at('/process');
    out.push(finding(file, p.line, p.col, 'config-terminal-missing', 'process.terminal is not set: add "terminal": false'));
  }
  const linux = cfg.linux && typeof cfg.linux === 'object' ? cfg.linux : undefined;
  if (linux && 'selinuxProcessLabel' in linux) {
    const p = at('/linux/selinuxProcessLabel');
    out.push(finding(file, p.line, p.col, 'config-selinux-process-label', 'linux.selinuxProcessLabel is ignored by runc: use process.selinuxLabel'));
  }
  for (const key of ['capabilities', 'rlimits']) {
    if (linux && key in linux) {
      const p = at(`/linux/${key}`);
      out.push(finding(file, p.line, p.col, 'config-obsolete-field', `linux.${key} is ignored by current runc: move it to process.${key}`));
    }
  }
  const hostname = (cfg as { hostname?: unknown }).hostname;
  const namespaces = Array.isArray(linux?.namespaces) ? (linux.namespaces as Array<{ type?: unknown }>) : [];
  if (typeof hostname === 'string' && hostname !== '' && !namespaces.some((n) => n?.type === 'uts')) {
    const p = at('/hostname');
    out.push(finding(file, p.line, p.col, 'config-hostname-without-uts', 'hostname needs a private uts namespace (runc: "unable to set hostname without a private UTS namespace"): add {"type": "uts"} to linux.namespaces'));
  }
  if (Array.isArray(cfg.mounts)) out.push(...checkMounts(file, cfg.mounts as Mount[], doc, source, at));
  for (const ptr of doc.duplicateKeys) {
    const p = at(ptr);
    out.push(finding(file, p.line, p.col, 'config-duplicate-key', `"${ptr.split('/').pop()}" is given twice in this object: only the last one counts`));
  }
  return out;
}

function checkMounts(
  file: string,
  mounts: Mount[],
  doc: JsonDocument,
  source: RenderedText | undefined,
  at: (ptr: string, prefer?: 'key' | 'value') => { line: number; col: number },
): RawFinding[] {
  const out: RawFinding[] = [];
  mounts.forEach((m, i) => {
    if (!m || typeof m !== 'object') return;
    if (m.type === 'rbind') {
      const p = at(`/mounts/${i}/type`, 'value');
      out.push(finding(file, p.line, p.col, 'config-mount-rbind-type', 'mount type "rbind" does not exist: use "type": "bind" and put "rbind" in options'));
    }
    const isBind = m.type === 'bind' || m.type === 'rbind' || (Array.isArray(m.options) && m.options.some((o) => o === 'bind' || o === 'rbind'));
    if (!isBind || typeof m.source !== 'string') return;
    const src = m.source.replace(/\/+$/, '');
    const hard = ['/var/lib', '/run', '/var/run'].find((d) => src === d || src.startsWith(d + '/'));
    if (!hard) return;
    // only a literal path in the template counts: ${STATE_DIRECTORY}/x renders to /var/lib/x too
    const valueOffset = locatePointer(doc, `/mounts/${i}/source`, 'value') + 1;
    // a literal config.json cannot use variables: exports-literal-config says what to do (as Atomic)
    if (!source || tokenAt(source, valueOffset)?.kind === 'var') return;
    const p = at(`/mounts/${i}/source`, 'value');
    const use = hard === '/var/lib' ? '${STATE_DIRECTORY}' : '${RUN_DIRECTORY}';
    out.push(finding(file, p.line, p.col, 'config-bind-host-state', `bind source "${m.source}" hard-codes ${hard}: use ${use}${src.slice(hard.length)}`));
  });
  return out;
}

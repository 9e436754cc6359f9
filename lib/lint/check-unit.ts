/**
 * Rules over service.template, parsed as written (placeholders and all) so positions are exact:
 * the directives sysctr relies on, values systemd accepts, sections and keys systemd knows.
 */
import { listVariables } from '../template/engine.js';
import { finding, rel, type LintContext } from './context.js';
import { KNOWN_UNIT_KEYS } from './systemd-keys.js';
import type { RawFinding } from './types.js';
import { parseUnitFile, type UnitEntry, type UnitFile } from '../systemd/unit-file.js';

const RESTART_VALUES = ['no', 'on-success', 'on-failure', 'on-abnormal', 'on-watchdog', 'on-abort', 'always'];
const TYPE_VALUES = ['simple', 'exec', 'forking', 'oneshot', 'dbus', 'notify', 'notify-reload', 'idle'];

/** the value uses $X or ${X} (as Project Atomic's lint: `ExecStart=$EXEC_START` is the norm, a wrapper around it is allowed) */
const usesVar = (value: string, name: string) => listVariables(value).includes(name);
const hasPlaceholder = (value: string) => /\$(?!\$)/.test(value.replace(/\$\$/g, ''));

export function checkUnit(ctx: LintContext): RawFinding[] {
  const t = ctx.templates.get('service.template');
  if (!t) return [];
  const file = rel(ctx, 'service.template');
  const unit = parseUnitFile(t.text);
  const out: RawFinding[] = [];
  for (const e of unit.errors) out.push(finding(file, e.line, e.col, 'unit-syntax', e.message));

  for (const s of unit.sections) {
    if (!(s.name in KNOWN_UNIT_KEYS) && !s.name.startsWith('X-')) {
      out.push(finding(file, s.line, s.col, 'unit-unknown-section', `section [${s.name}] is not used in a service unit: use [Unit], [Service], [Install]`));
    }
  }
  for (const e of unit.entries()) {
    const known = KNOWN_UNIT_KEYS[e.section];
    if (known && !known.has(e.key) && !e.key.startsWith('X-')) {
      out.push(finding(file, e.line, e.col, 'unit-unknown-key', `${e.key}= is not a known key in [${e.section}]; systemd ignores it`));
    }
  }
  const sectionLine = (name: string) => unit.sections.find((s) => s.name === name);
  const service = sectionLine('Service');
  const missingAt = service ?? { line: 1, col: 1 };

  requireVar(out, file, unit, 'ExecStart', 'EXEC_START', 'unit-exec-start', missingAt);
  requireVar(out, file, unit, 'ExecStop', 'EXEC_STOP', 'unit-exec-stop', missingAt);
  requireVar(out, file, unit, 'WorkingDirectory', 'DESTDIR', 'unit-working-directory', missingAt);

  const restart = unit.last('Service', 'Restart');
  if (restart && !hasPlaceholder(restart.value) && !RESTART_VALUES.includes(restart.value)) {
    out.push(finding(file, restart.line, restart.valueCol, 'unit-restart-value', `Restart=${restart.value} is not valid: use one of ${RESTART_VALUES.join(', ')}`));
  }
  const type = unit.last('Service', 'Type');
  if (type && !hasPlaceholder(type.value) && !TYPE_VALUES.includes(type.value)) {
    out.push(finding(file, type.line, type.valueCol, 'unit-type-value', `Type=${type.value} is not valid: use one of ${TYPE_VALUES.join(', ')}`));
  }
  const pidfile = unit.last('Service', 'PIDFile');
  if (type?.value === 'forking' && !pidfile) {
    out.push(finding(file, type.line, type.col, 'unit-forking-without-pidfile', 'Type=forking without PIDFile=: add PIDFile=$PIDFILE'));
  }
  if (ctx.detached && type?.value !== 'forking') {
    const where: { line: number; col: number } = type ?? pidfile ?? missingAt;
    out.push(finding(file, where.line, where.col, 'unit-detached-not-forking',
      type?.value === 'notify'
        ? 'the unit uses $PIDFILE and $EXEC_STOPPOST, so runc runs detached and sysctr\'s drop-in makes it Type=forking: for Type=notify, run runc in the foreground (ExecStart=$EXEC_START without $PIDFILE and $EXEC_STOPPOST; docs/health.md)'
        : `the unit uses $PIDFILE and $EXEC_STOPPOST, so runc runs detached, but Type=${type?.value ?? 'simple (the default)'}: add Type=forking (sysctr's drop-in adds it; the unit alone is wrong)`));
  }
  return out;
}

function requireVar(
  out: RawFinding[],
  file: string,
  unit: UnitFile,
  key: string,
  variable: string,
  rule: string,
  missingAt: { line: number; col: number },
): void {
  const all = unit.entries('Service', key).filter((e) => e.value !== '');
  if (all.length === 0) {
    out.push(finding(file, missingAt.line, missingAt.col, rule, `no ${key}= in [Service]: write ${key}=$${variable}`));
    return;
  }
  const bad: UnitEntry | undefined = all.find((e) => !usesVar(e.value, variable));
  if (bad) out.push(finding(file, bad.line, bad.valueCol, rule, `${key}=${bad.value} does not use $${variable}: write ${key}=$${variable} (sysctr generates it)`));
}

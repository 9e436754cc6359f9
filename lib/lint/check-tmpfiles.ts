/**
 * Rules over tmpfiles.template, rendered with the lint values (so ${STATE_DIRECTORY}/x is an
 * absolute path), positions mapped back to the template.
 */
import { renderTokens, sourcePosition, tokenAt } from '../template/engine.js';
import { finding, rel, type LintContext } from './context.js';
import { parseTmpfiles, type TmpfilesField } from './tmpfiles-parser.js';
import type { RawFinding } from './types.js';

const TYPES = 'fFwdDevqQpLcbCxXrRzZtThHaA';
const MODIFIERS = '+!-=~^$';
const MODE = /^[~:]{0,2}[0-7]{3,4}$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*\$?$/;
const AGE = /^~?(?:\d+(?:\.\d+)?\s*(?:us|usec|ms|msec|s|sec|second|seconds|m|min|minute|minutes|h|hr|hour|hours|d|day|days|w|week|weeks|M|month|months|y|year|years)?\s*)+$/;

export function checkTmpfiles(ctx: LintContext): RawFinding[] {
  const t = ctx.templates.get('tmpfiles.template');
  if (!t) return [];
  const file = rel(ctx, 'tmpfiles.template');
  // an undefined variable (reported by template-undefined-variable) stands as "-", which every field accepts
  const rendered = renderTokens(file, t.parsed, ctx.values, { lenient: true, missing: '-' });
  const out: RawFinding[] = [];
  const add = (f: TmpfilesField | { offset: number }, rule: string, message: string) => {
    const p = sourcePosition(rendered, f.offset);
    out.push(finding(file, p.line, p.col, rule, message));
  };
  for (const line of parseTmpfiles(rendered.text)) {
    const [type, pathField, mode, user, group, age] = line.fields;
    if (line.error) add({ offset: line.offset }, 'tmpfiles-syntax', line.error);
    if (!pathField) {
      add(type ?? { offset: line.offset }, 'tmpfiles-syntax', 'a tmpfiles line needs at least a type and a path');
      continue;
    }
    const letter = type.text[0];
    const mods = type.text.slice(1);
    if (!TYPES.includes(letter) || [...mods].some((c) => !MODIFIERS.includes(c)) || new Set(mods).size !== mods.length) {
      add(type, 'tmpfiles-type', `"${type.text}" is not a tmpfiles type: a letter from ${TYPES} and modifiers from ${MODIFIERS}`);
    }
    if (!pathField.text.startsWith('/')) {
      const fromVar = tokenAt(rendered, pathField.offset)?.kind === 'var';
      add(pathField, 'tmpfiles-path', `path "${pathField.text}" is not absolute${fromVar ? ' after rendering' : ''}`);
    }
    if (mode && mode.text !== '-' && !MODE.test(mode.text)) add(mode, 'tmpfiles-mode', `mode "${mode.text}" is not an octal mode like 0755 (or -)`);
    for (const [f, what] of [[user, 'user'], [group, 'group']] as const) {
      if (f && f.text !== '-' && !/^\d+$/.test(f.text) && !NAME.test(f.text)) add(f, 'tmpfiles-owner', `${what} "${f.text}" is not a name, a number or -`);
    }
    if (age && age.text !== '-' && !AGE.test(age.text)) add(age, 'tmpfiles-age', `age "${age.text}" is not a time span like 10d or 1h30min (or -)`);
  }
  return out;
}

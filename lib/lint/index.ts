/**
 * `sysctr lint DIR...`: every rule over every directory, findings sorted by file, line, column.
 */
import fs from 'node:fs';
import path from 'node:path';
import { usageError } from '../errors.js';
import { checkConfig } from './check-config.js';
import { checkDockerfile } from './check-dockerfile.js';
import { checkHostfs } from './check-hostfs.js';
import { checkVolumes } from './check-volumes.js';
import { checkTemplates } from './check-templates.js';
import { checkTmpfiles } from './check-tmpfiles.js';
import { checkUnit } from './check-unit.js';
import { loadContext } from './context.js';
import { RULES_BY_ID } from './rules.js';
import { findSystemdAnalyze, verifyUnit } from './systemd-verify.js';
import type { Finding, RawFinding } from './types.js';

export interface LintOptions {
  /** skip systemd-analyze verify */
  noSystemd?: boolean;
}

export interface LintSummary {
  errors: number;
  warnings: number;
  directories: number;
  /** things the user should know about the run itself (a check skipped, and why) */
  notes: string[];
}

export interface LintResult {
  findings: Finding[];
  summary: LintSummary;
}

/** Lints image source directories. Throws a usage error for a directory that does not exist. */
export async function lint(dirs: string[], opts: LintOptions = {}): Promise<LintResult> {
  for (const d of dirs) {
    if (!fs.existsSync(d)) throw usageError(`${d}: no such directory`, 'name an image source directory (the one with the Dockerfile and the exports files)');
    if (!fs.statSync(d).isDirectory()) throw usageError(`${d}: not a directory`, 'lint takes image source directories');
  }
  const notes: string[] = [];
  let analyze: string | undefined;
  if (opts.noSystemd) notes.push('systemd-analyze verify skipped (--no-systemd)');
  else {
    analyze = await findSystemdAnalyze();
    if (!analyze) notes.push('systemd-analyze not found: units not verified by systemd (install systemd, or pass --no-systemd)');
  }
  const perDir = await Promise.all(dirs.map((d) => lintDir(d, analyze)));
  const findings = perDir.flat().sort(
    (a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) || a.line - b.line || a.column - b.column || a.rule.localeCompare(b.rule),
  );
  const errors = findings.filter((f) => f.severity === 'error').length;
  return { findings, summary: { errors, warnings: findings.length - errors, directories: dirs.length, notes } };
}

async function lintDir(dir: string, analyze: string | undefined): Promise<Finding[]> {
  const ctx = loadContext(dir);
  const raw: RawFinding[] = [
    ...checkTemplates(ctx),
    ...checkHostfs(ctx),
    ...checkVolumes(ctx),
    ...checkConfig(ctx),
    ...checkUnit(ctx),
    ...checkTmpfiles(ctx),
    ...checkDockerfile(ctx),
  ];
  if (analyze) {
    // systemd repeats what the unit rules already say (bad Restart=, unknown key): keep ours
    const unitLines = new Set(raw.filter((f) => f.rule.startsWith('unit-')).map((f) => f.line));
    for (const f of await verifyUnit(ctx, analyze)) if (!unitLines.has(f.line)) raw.push(f);
  }
  return raw.map((f) => {
    const rule = RULES_BY_ID.get(f.rule);
    if (!rule) throw new Error(`lint rule ${f.rule} is not in the rules table`);
    return {
      file: f.file === '.' ? dir : path.join(dir, f.file),
      line: f.line,
      column: f.col,
      severity: rule.severity,
      rule: f.rule,
      message: f.message,
    };
  });
}

export function formatText(r: LintResult): string {
  const lines = r.findings.map((f) => `${f.file}:${f.line}:${f.column}: ${f.severity} ${f.rule} ${f.message}`);
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  lines.push(`${plural(r.summary.errors, 'error')}, ${plural(r.summary.warnings, 'warning')} in ${plural(r.summary.directories, 'directory').replace('directorys', 'directories')}`);
  for (const n of r.summary.notes) lines.push(`note: ${n}`);
  return lines.join('\n') + '\n';
}

export function formatJson(r: LintResult): string {
  return JSON.stringify({ findings: r.findings, summary: r.summary }, null, 2) + '\n';
}

/** 1 when there are errors (or, with strict, warnings), else 0. */
export function exitCode(r: LintResult, strict: boolean): number {
  return r.summary.errors > 0 || (strict && r.summary.warnings > 0) ? 1 : 0;
}

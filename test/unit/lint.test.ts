/**
 * Lint rules against their fixtures: fixtures/lint/<rule>/ is the clean image with one planted
 * defect, and EXPECT says where it is. Each must produce exactly that finding; the clean
 * directories nothing. Through the CLI: the text and JSON formats and the exit codes.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { lint } from '../../lib/lint/index.js';
import { RULES } from '../../lib/lint/rules.js';
import { findSystemdAnalyze } from '../../lib/lint/systemd-verify.js';
import { projectDir, sysctr } from '../helpers/cli.js';
import { unmet } from '../helpers/prereq.js';

const fixtures = path.join(projectDir, 'fixtures/lint');
const dirs = fs.readdirSync(fixtures).filter((d) => fs.statSync(path.join(fixtures, d)).isDirectory()).sort();
const expectOf = (d: string) => fs.readFileSync(path.join(fixtures, d, 'EXPECT'), 'utf8').trim();

async function found(dir: string, opts: { noSystemd?: boolean } = {}): Promise<string> {
  const r = await lint([dir], opts);
  return r.findings.map((f) => `${path.relative(dir, f.file) || '.'}:${f.line}:${f.column} ${f.rule}`).join('\n');
}

t.test('every rule has a fixture, and every fixture a rule (or is clean)', async (t) => {
  const ids = RULES.map((r) => r.id).sort();
  t.same(dirs.filter((d) => !d.startsWith('clean')), ids);
});

t.test('each fixture triggers exactly its rule, at the planted line and column', async (t) => {
  const analyze = await findSystemdAnalyze();
  for (const d of dirs) {
    if (d === 'unit-systemd-verify' && !analyze) {
      unmet(t, 'systemd-analyze is not installed (package systemd); unit-systemd-verify not checked');
      continue;
    }
    t.equal(await found(path.join(fixtures, d)), expectOf(d), d);
  }
});

t.test('--no-systemd: nothing from systemd-analyze, the other rules unchanged', async (t) => {
  t.equal(await found(path.join(fixtures, 'unit-systemd-verify'), { noSystemd: true }), '');
  t.equal(await found(path.join(fixtures, 'unit-restart-value'), { noSystemd: true }), expectOf('unit-restart-value'));
});

t.test('docs/lint-rules.md documents every rule with its severity', async (t) => {
  const doc = fs.readFileSync(path.join(projectDir, 'docs/lint-rules.md'), 'utf8');
  const esc = (x: string) => x.replace(/\|/g, '\\|');
  for (const r of RULES) t.ok(doc.includes(`| \`${r.id}\` | ${r.severity} | ${esc(r.summary)} | ${esc(r.fix)} |\n`), `${r.id}: its row says what rules.ts says`);
});

t.test('text output: FILE:LINE:COL: severity RULE message, sorted, then a summary', async (t) => {
  const a = path.join('fixtures/lint', 'unit-restart-value');
  const b = path.join('fixtures/lint', 'dockerfile-maintainer');
  const r = await sysctr(['lint', '--no-systemd', a, b], { cwd: projectDir });
  t.equal(r.exitCode, 1, 'an error: exit 1');
  const lines = r.stdout.trimEnd().split('\n');
  t.equal(lines[0], `${b}/Dockerfile:2:1: warning dockerfile-maintainer MAINTAINER is deprecated: use LABEL maintainer="..."`);
  t.match(lines[1], new RegExp(`^${a}/service\\.template:8:9: error unit-restart-value Restart=on-crash is not valid`));
  t.equal(lines[2], '1 error, 1 warning in 2 directories');
  t.equal(lines[3], 'note: systemd-analyze verify skipped (--no-systemd)');
});

t.test('JSON output: findings with file, line, column, severity, rule, message; and the summary', async (t) => {
  const r = await sysctr(['lint', '--format', 'json', '--no-systemd', path.join(fixtures, 'tmpfiles-mode')]);
  t.equal(r.exitCode, 1);
  const out = JSON.parse(r.stdout);
  t.same(Object.keys(out).sort(), ['findings', 'summary']);
  t.equal(out.findings.length, 1);
  t.same(out.findings[0], {
    file: path.join(fixtures, 'tmpfiles-mode', 'tmpfiles.template'),
    line: 1,
    column: 28,
    severity: 'error',
    rule: 'tmpfiles-mode',
    message: 'mode "0799" is not an octal mode like 0755 (or -)',
  });
  t.same(out.summary, { errors: 1, warnings: 0, directories: 1, notes: ['systemd-analyze verify skipped (--no-systemd)'] });
});

t.test('exit codes: 0 clean, 0 warnings only, 1 with --strict, 1 errors, 2 usage', async (t) => {
  const clean = await sysctr(['lint', path.join(fixtures, 'clean'), path.join(fixtures, 'clean-multistage')]);
  t.equal(clean.exitCode, 0, clean.stdout + clean.stderr);
  t.equal(clean.stdout, "0 errors, 0 warnings in 2 directories");
  const warn = path.join(fixtures, 'unit-unknown-key');
  t.equal((await sysctr(['lint', '--no-systemd', warn])).exitCode, 0);
  t.equal((await sysctr(['lint', '--no-systemd', '--strict', warn])).exitCode, 1);
  t.equal((await sysctr(['lint', '--no-systemd', path.join(fixtures, 'config-root-readonly')])).exitCode, 1);
  const missing = await sysctr(['lint', path.join(fixtures, 'no-such-dir')]);
  t.equal(missing.exitCode, 2);
  t.match(missing.stderr, /no-such-dir: no such directory/);
  const format = await sysctr(['lint', '--format', 'xml', path.join(fixtures, 'clean')]);
  t.equal(format.exitCode, 2);
  t.match(format.stderr, /--format xml: use text or json/);
  t.equal((await sysctr(['lint'])).exitCode, 2, 'no directory');
});

t.test('an undefined variable is reported once, not again as the broken JSON or tmpfiles field it causes', async (t) => {
  const clean = path.join(fixtures, 'clean');
  const files: Record<string, string> = {};
  for (const f of fs.readdirSync(clean)) if (f !== 'EXPECT') files[f] = fs.readFileSync(path.join(clean, f), 'utf8');
  files['config.json.template'] = files['config.json.template'].replace('"uid": 0', '"uid": $SERVICE_UID');
  files['tmpfiles.template'] = files['tmpfiles.template'].replace('0700', '$MODE');
  const dir = t.testdir(files);
  t.equal(await found(dir, { noSystemd: true }), [
    'config.json.template:5:22 template-undefined-variable',
    'tmpfiles.template:1:28 template-undefined-variable',
  ].join('\n'));
});

t.test('Dockerfile stages: only what reaches the final image counts', async (t) => {
  const clean = path.join(fixtures, 'clean');
  const files: Record<string, string> = {};
  for (const f of fs.readdirSync(clean)) if (f !== 'EXPECT' && f !== 'Dockerfile') files[f] = fs.readFileSync(path.join(clean, f), 'utf8');
  const exportsList = 'config.json.template manifest.json service.template tmpfiles.template';
  const lintWith = async (dockerfile: string) => found(t.testdir({ ...files, Dockerfile: dockerfile }), { noSystemd: true });
  t.equal(await lintWith(`FROM fedora:40 AS base\nLABEL atomic.type=system\nFROM base\nCOPY ${exportsList} /exports/\n`), '', 'a label in the stage the final one is built from');
  t.equal(await lintWith(`FROM golang:1.22 AS build\nCOPY ${exportsList} /exports/\nFROM fedora:40\nLABEL atomic.type=system\nCOPY --from=build /exports /exports\n`), '', 'exports copied from a builder stage');
  t.equal(await lintWith(`FROM golang:1.22 AS build\nLABEL atomic.type=system\nCOPY ${exportsList} /exports/\nFROM fedora:40\n`), [
    'Dockerfile:4:1 dockerfile-label-system',
    'Dockerfile:4:1 dockerfile-exports-not-copied',
    'Dockerfile:4:1 dockerfile-exports-not-copied',
    'Dockerfile:4:1 dockerfile-exports-not-copied',
    'Dockerfile:4:1 dockerfile-exports-not-copied',
  ].sort().join('\n'), 'a builder stage\'s label and COPY are not in the image');
});

/**
 * `systemd-analyze verify` of the rendered unit. The unit is rendered with the lint values (the
 * runtime is a program that exists, so verify's "is not executable" check means something for the
 * image's own Exec lines) and written to a temp dir as NAME.service. `--recursive-errors=no`: units
 * it depends on (docker.service, ...) are not on this machine and are not the image's problem.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { renderTokens, sourcePosition } from '../template/engine.js';
import { parseUnitFile } from '../systemd/unit-file.js';
import { finding, rel, type LintContext } from './context.js';
import type { RawFinding } from './types.js';

export async function findSystemdAnalyze(): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const p = path.join(dir || '.', 'systemd-analyze');
    try {
      await fs.promises.access(p, fs.constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

export async function verifyUnit(ctx: LintContext, program: string): Promise<RawFinding[]> {
  const t = ctx.templates.get('service.template');
  if (!t || t.parsed.invalid.length) return [];
  const file = rel(ctx, 'service.template');
  const rendered = renderTokens(file, t.parsed, ctx.values, { lenient: true });
  const lineStarts = [0];
  for (let i = 0; i < rendered.text.length; i++) if (rendered.text[i] === '\n') lineStarts.push(i + 1);
  const templateLine = (renderedLine: number) => sourcePosition(rendered, lineStarts[Math.min(renderedLine, lineStarts.length) - 1] ?? 0).line;

  const tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'sysctr-lint-'));
  const unitName = `${ctx.name}.service`;
  const unitPath = path.join(tmp, unitName);
  try {
    await fs.promises.writeFile(unitPath, rendered.text);
    // loaded here: execa takes ~0.1 s to import, and --no-systemd runs must not pay for it
    const { execa } = await import('execa');
    const r = await execa(program, ['verify', '--man=no', '--recursive-errors=no', unitPath], {
      reject: false,
      env: { SYSTEMD_LOG_COLOR: '0', SYSTEMD_PAGER: '' },
      timeout: 20_000,
    });
    const out: RawFinding[] = [];
    for (const raw of `${r.stderr}\n${r.stdout}`.split('\n')) {
      const lineMsg = raw.trim();
      if (!lineMsg) continue;
      const withLine = new RegExp(`^${escapeRe(unitPath)}:(\\d+): (.*)$`).exec(lineMsg);
      if (withLine) {
        out.push(finding(file, templateLine(Number(withLine[1])), 1, 'unit-systemd-verify', `systemd-analyze verify: ${withLine[2]}`));
        continue;
      }
      const unitMsg = new RegExp(`^${escapeRe(unitName)}: (.*)$`).exec(lineMsg);
      const message = (unitMsg ? unitMsg[1] : lineMsg).replaceAll(unitPath, unitName);
      // "Command X is not executable": point at the line that runs X
      const cmd = /Command (\S+) is not executable/.exec(message);
      let line = 1;
      if (cmd) {
        const runs = parseUnitFile(rendered.text).entries().find((e) => e.key.startsWith('Exec') && e.value.includes(cmd[1]));
        if (runs) line = templateLine(runs.line);
      }
      out.push(finding(file, line, 1, 'unit-systemd-verify', `systemd-analyze verify: ${message}`));
    }
    return out;
  } finally {
    await fs.promises.rm(tmp, { recursive: true, force: true });
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

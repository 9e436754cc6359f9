/**
 * The files sysctr writes itself (the default unit, the drop-in, the default config.json) are
 * mustache templates in the package's templates/ folder. Mustache's own escaping is for HTML; here
 * every `{{value}}` is written the way its file format needs, by the same rules a value put into an
 * image's templates follows (./value-context.ts): in JSON, JSON-escaped inside a string and a JSON
 * fragment outside one; in systemd files, control characters refused and `%` written `%%`.
 * `{{{value}}}` and `{{& value}}` (unescaped) are refused: nothing in those files is written raw.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type Mustache from 'mustache';
import { encodeJsonValue, encodeSystemdValue, newJsonLexState, scanJson } from './value-context.js';

type MustacheModule = typeof Mustache;
type Context = InstanceType<MustacheModule['Context']>;

export type FileFormat = 'json' | 'systemd';

// loaded on first use: the commands that write no file (list, info) do not pay for it
const require = createRequire(import.meta.url);
let writerClass: (new (file: string, template: string, format: FileFormat) => { render(template: string, view: object): string }) | undefined;

function formatWriter() {
  if (writerClass) return writerClass;
  const mustache = require('mustache') as MustacheModule;
  writerClass = class extends mustache.Writer {
    constructor(private readonly file: string, private readonly template: string, private readonly format: FileFormat) {
      super();
    }

    override escapedValue(token: string[], context: Context): string {
      const name = token[1];
      const value: unknown = context.lookup(name);
      // a value the view does not have is a bug in sysctr, not something to leave blank
      if (value === undefined || value === null) throw new Error(`${this.file}: {{${name}}} has no value`);
      const start = Number(token[2]);
      const before = this.template.slice(0, start);
      const line = before.split('\n').length;
      const place = { file: this.file, name, line, col: start - before.lastIndexOf('\n'), next: this.template.slice(Number(token[3])) };
      if (this.format === 'systemd') return encodeSystemdValue(String(value), place);
      const st = newJsonLexState();
      // the lexical state of the JSON text itself: mustache tags and comments are not part of it
      scanJson(before.replace(/\{\{[\s\S]*?\}\}/g, ''), st);
      return encodeJsonValue(String(value), st, place);
    }

    override unescapedValue(token: string[]): string {
      throw new Error(`${this.file}: {{{${token[1]}}}} writes a value unescaped; use {{${token[1]}}}`);
    }
  };
  return writerClass;
}

/** Renders mustache text; `file` names it in errors. */
export function renderMustache(file: string, template: string, view: object, format: FileFormat): string {
  const Writer = formatWriter();
  return new Writer(file, template, format).render(template, view);
}

/** templates/ lives at the project root: two levels above lib/template/ (and dist/lib/template/ has one more). */
function templatesDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let k = 0; k < 5; k++) {
    const candidate = path.join(dir, 'templates');
    if (fs.existsSync(path.join(candidate, 'default.service.mustache'))) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error('sysctr installation is incomplete: templates/ not found next to lib/');
}

const shipped = new Map<string, string>();

/**
 * Renders one of the templates sysctr ships (templates/NAME): `*.json.mustache` as JSON, the
 * others as systemd files.
 */
export function renderShipped(name: string, view: object): string {
  let text = shipped.get(name);
  if (text === undefined) {
    text = fs.readFileSync(path.join(templatesDir(), name), 'utf8');
    shipped.set(name, text);
  }
  return renderMustache(`templates/${name}`, text, view, name.endsWith('.json.mustache') ? 'json' : 'systemd');
}

/**
 * The `$VAR` template engine, with Python `string.Template` semantics (the syntax real system
 * container images use): `$NAME`, `${NAME}` (NAME = [_A-Za-z][_A-Za-z0-9]*), `$$` for a literal `$`.
 * Any other `$` is an invalid placeholder. Substitution is plain text; every token keeps its
 * 1-based line and column so errors (and lint findings in rendered output) point at the template.
 */
import { SysctrError } from '../errors.js';
import { encodeJsonValue, encodeSystemdValue, newJsonLexState, scanJson, type ValueContext } from './value-context.js';

export interface Position {
  line: number;
  col: number;
}

export type Token =
  | { kind: 'text'; text: string; offset: number; line: number; col: number }
  /** `$$`: renders as one `$` */
  | { kind: 'dollar'; offset: number; line: number; col: number }
  | { kind: 'var'; name: string; braced: boolean; raw: string; offset: number; line: number; col: number };

export interface InvalidPlaceholder {
  offset: number;
  line: number;
  col: number;
  /** the characters that made it invalid, for messages: `$1`, `$(`, `${`, `$` */
  raw: string;
  message: string;
}

export interface ParsedTemplate {
  tokens: Token[];
  invalid: InvalidPlaceholder[];
}

const NAME_START = /[_A-Za-z]/;
const NAME_REST = /[_A-Za-z0-9]/;

/** Splits a template into tokens; invalid placeholders are collected, not thrown. */
export function parseTemplate(text: string): ParsedTemplate {
  const tokens: Token[] = [];
  const invalid: InvalidPlaceholder[] = [];
  let line = 1;
  let col = 1;
  let textStart = 0;
  let textLine = 1;
  let textCol = 1;
  const flushText = (end: number) => {
    if (end > textStart) tokens.push({ kind: 'text', text: text.slice(textStart, end), offset: textStart, line: textLine, col: textCol });
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch !== '$') {
      if (ch === '\n') {
        line++;
        col = 1;
      } else col++;
      i++;
      continue;
    }
    flushText(i);
    const at = { offset: i, line, col };
    const next = text[i + 1];
    let len: number;
    if (next === '$') {
      tokens.push({ kind: 'dollar', ...at });
      len = 2;
    } else if (next !== undefined && NAME_START.test(next)) {
      let j = i + 2;
      while (j < text.length && NAME_REST.test(text[j])) j++;
      tokens.push({ kind: 'var', name: text.slice(i + 1, j), braced: false, raw: text.slice(i, j), ...at });
      len = j - i;
    } else if (next === '{' && braced(text, i + 2) > 0) {
      const end = braced(text, i + 2);
      tokens.push({ kind: 'var', name: text.slice(i + 2, end), braced: true, raw: text.slice(i, end + 1), ...at });
      len = end + 1 - i;
    } else {
      const raw = next === undefined || next === '\n' ? '$' : '$' + next;
      invalid.push({ ...at, raw, message: invalidMessage(text, i) });
      len = 1; // Python stops at the first; we go on to report every one, treating `$` as text
      tokens.push({ kind: 'text', text: '$', ...at });
    }
    i += len;
    col += len; // placeholders never span lines
    textStart = i;
    textLine = line;
    textCol = col;
  }
  flushText(text.length);
  return { tokens, invalid };
}

/** If text[start..] is NAME followed by `}`, the index of the `}`; else -1. */
function braced(text: string, start: number): number {
  if (start >= text.length || !NAME_START.test(text[start])) return -1;
  let j = start + 1;
  while (j < text.length && NAME_REST.test(text[j])) j++;
  return text[j] === '}' ? j : -1;
}

function invalidMessage(text: string, i: number): string {
  const next = text[i + 1];
  if (next === undefined) return 'invalid placeholder: a lone "$" at the end; write "$$" for a literal "$"';
  if (next === '{') {
    const close = text.indexOf('}', i);
    const nl = text.indexOf('\n', i);
    if (close < 0 || (nl >= 0 && nl < close)) return 'invalid placeholder: "${" is not closed; write "${NAME}" or "$$" for a literal "$"';
    return `invalid placeholder "${text.slice(i, close + 1)}": a name is [_A-Za-z][_A-Za-z0-9]*; write "$$" for a literal "$"`;
  }
  const shown = next === '\n' ? '$' : '$' + next;
  return `invalid placeholder "${shown}": "$" must start $NAME or \${NAME}; write "$$" for a literal "$"`;
}

/** The variable names a template uses, each once, in order of first use. Invalid placeholders are ignored. */
export function listVariables(text: string | ParsedTemplate): string[] {
  const parsed = typeof text === 'string' ? parseTemplate(text) : text;
  const seen = new Set<string>();
  for (const t of parsed.tokens) if (t.kind === 'var') seen.add(t.name);
  return [...seen];
}

/** Where each variable is first used (for messages). */
export function firstUses(parsed: ParsedTemplate): Map<string, Position> {
  const m = new Map<string, Position>();
  for (const t of parsed.tokens) if (t.kind === 'var' && !m.has(t.name)) m.set(t.name, { line: t.line, col: t.col });
  return m;
}

export interface UndefinedUse {
  file: string;
  name: string;
  line: number;
  col: number;
}

/** Variables used by the template that have no value (first use of each). */
export function undefinedVariables(file: string, parsed: ParsedTemplate, values: Record<string, string>): UndefinedUse[] {
  const out: UndefinedUse[] = [];
  for (const [name, pos] of firstUses(parsed)) if (!Object.hasOwn(values, name)) out.push({ file, name, ...pos });
  return out;
}

/** The error for undefined variables: the first in the message (the documented form), the rest in the hint. */
export function undefinedError(uses: UndefinedUse[]): SysctrError {
  const [first, ...rest] = uses;
  const msg = `${first.file}:${first.line}:${first.col}: variable ${first.name} has no value; set it with --set ${first.name}=...`;
  const hint = rest.length
    ? `also without a value: ${rest.map((u) => `${u.name} (${u.file}:${u.line}:${u.col})`).join(', ')}`
    : undefined;
  return new SysctrError(msg, { hint });
}

export function invalidError(file: string, bad: InvalidPlaceholder[]): SysctrError {
  const [first, ...rest] = bad;
  const hint = rest.length ? `also: ${rest.map((b) => `${file}:${b.line}:${b.col} "${b.raw}"`).join(', ')}` : undefined;
  return new SysctrError(`${file}:${first.line}:${first.col}: ${first.message}`, { hint });
}

/**
 * A rendered text and where each part came from. `segments` are in output order; a `var`
 * segment's whole output maps to the placeholder's position.
 */
export interface RenderedText {
  text: string;
  segments: Array<{ outStart: number; outEnd: number; token: Token }>;
}

/**
 * Renders parsed tokens. Invalid placeholders and undefined variables throw, unless `lenient`
 * (lint: an invalid `$` stays literal, an undefined variable renders as `missing`, default empty;
 * both are reported apart).
 */
export function renderTokens(
  file: string,
  parsed: ParsedTemplate,
  values: Record<string, string>,
  opts: { lenient?: boolean; missing?: string; context?: ValueContext } = {},
): RenderedText {
  const context = opts.lenient ? 'text' : (opts.context ?? 'text');
  const json = newJsonLexState();
  if (!opts.lenient) {
    if (parsed.invalid.length) throw invalidError(file, parsed.invalid);
    const missing = undefinedVariables(file, parsed, values);
    if (missing.length) throw undefinedError(missing);
  }
  const parts: string[] = [];
  const segments: RenderedText['segments'] = [];
  let out = 0;
  const tokens = parsed.tokens;
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k];
    let s = t.kind === 'text' ? t.text : t.kind === 'dollar' ? '$' : (values[t.name] ?? opts.missing ?? '');
    if (t.kind === 'var' && context !== 'text') {
      const after = tokens[k + 1];
      const place = { file, name: t.name, line: t.line, col: t.col, next: after?.kind === 'text' ? after.text : after ? '$' : '' };
      s = context === 'json' ? encodeJsonValue(s, json, place) : encodeSystemdValue(s, place);
    } else if (context === 'json') scanJson(s, json);
    parts.push(s);
    segments.push({ outStart: out, outEnd: out + s.length, token: t });
    out += s.length;
  }
  return { text: parts.join(''), segments };
}

/** Renders a template text: throws a SysctrError (file:line:col) on invalid or undefined placeholders. */
export function renderTemplate(file: string, text: string, values: Record<string, string>, context: ValueContext = 'text'): string {
  return renderTokens(file, parseTemplate(text), values, { context }).text;
}

/** The token that produced an output offset. */
export function tokenAt(r: RenderedText, outOffset: number): Token | undefined {
  let lo = 0;
  let hi = r.segments.length - 1;
  if (hi < 0) return undefined;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (r.segments[mid].outStart <= outOffset) lo = mid;
    else hi = mid - 1;
  }
  return r.segments[lo].token;
}

/** Maps an offset in rendered output back to the template position that produced it. */
export function sourcePosition(r: RenderedText, outOffset: number): Position {
  let lo = 0;
  let hi = r.segments.length - 1;
  if (hi < 0) return { line: 1, col: 1 };
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (r.segments[mid].outStart <= outOffset) lo = mid;
    else hi = mid - 1;
  }
  const seg = r.segments[lo];
  const t = seg.token;
  if (t.kind !== 'text') return { line: t.line, col: t.col };
  let line = t.line;
  let col = t.col;
  const upto = Math.min(outOffset - seg.outStart, t.text.length);
  for (let k = 0; k < upto; k++) {
    if (t.text[k] === '\n') {
      line++;
      col = 1;
    } else col++;
  }
  return { line, col };
}

/** 1-based line/col of an offset in a plain text. */
export function positionAt(text: string, offset: number): Position {
  let line = 1;
  let last = -1;
  for (let k = 0; k < offset && k < text.length; k++) if (text.charCodeAt(k) === 10) {
    line++;
    last = k;
  }
  return { line, col: offset - last };
}

/**
 * Where a substituted value lands decides how it is written, so that a value is only ever a value:
 *
 * - `json` (config.json.template): inside a JSON string the value is JSON-escaped (a quote or a
 *   backslash arrives as that character, `C:\new` stays `C:\new`); outside a string it must be a
 *   JSON fragment that stands on its own: a value (`"uid": $UID`), or a list of values or of
 *   members, with an optional leading or trailing comma (`[${ALL_PROCESS_CAPABILITIES}]`, a
 *   `$ADDTL_MOUNTS` after the last mount). It can never close a bracket it did not open.
 * - `systemd` (units, drop-ins, tmpfiles confs): a newline, carriage return or other control
 *   character is refused (it would start a new directive or line), `%` is written `%%` (systemd
 *   would expand it as a specifier), and a value ending in `\` cannot end a line (it would continue
 *   the line into the next directive).
 * - `text`: as it is.
 *
 * A plain value (no quote, backslash, control character or `%`) is written unchanged in every
 * context, so Atomic's images render byte-identical.
 */
import { SysctrError } from '../errors.js';

export type ValueContext = 'json' | 'systemd' | 'text';

/** Lexical state of JSON text written so far: inside a string or not. */
export interface JsonLexState {
  inString: boolean;
  escaped: boolean;
}

export function newJsonLexState(): JsonLexState {
  return { inString: false, escaped: false };
}

/** Advances the state over literal template text. */
export function scanJson(text: string, st: JsonLexState): void {
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (st.inString) {
      if (st.escaped) st.escaped = false;
      else if (c === '\\') st.escaped = true;
      else if (c === '"') st.inString = false;
    } else if (c === '"') st.inString = true;
  }
}

/** A value placed outside any JSON string: complete JSON values or members, nothing more. */
export function isJsonFragment(value: string): boolean {
  const inner = value.trim().replace(/^,/, '').replace(/,\s*$/, '');
  if (inner.trim() === '') return true;
  for (const [open, close] of [['[', ']'], ['{', '}']]) {
    try {
      JSON.parse(open + inner + close);
      return true;
    } catch {
      /* try the other */
    }
  }
  return false;
}

export interface Placement {
  file: string;
  name: string;
  line: number;
  col: number;
  /** the template text right after the placeholder (for the end-of-line rule) */
  next: string;
}

const preview = (v: string) => JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);

function refuse(p: Placement, why: string, hint?: string): never {
  throw new SysctrError(`${p.file}:${p.line}:${p.col}: the value of ${p.name} ${why}; refused`, {
    hint: hint ?? `give ${p.name} a value without it (--set ${p.name}=... or the image's manifest.json default)`,
  });
}

/** The value as written at this place in a `json` file. */
export function encodeJsonValue(value: string, st: JsonLexState, p: Placement): string {
  if (st.inString) return JSON.stringify(value).slice(1, -1);
  if (!isJsonFragment(value)) {
    refuse(p, `(${preview(value)}) is not JSON, and it lands outside a JSON string, where only JSON fits (a value, or a list of values or members)`, `--set ${p.name}='...' with JSON there, e.g. "a", "b"`);
  }
  return value;
}

const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/** The value as written at this place in a unit, drop-in or tmpfiles conf. */
export function encodeSystemdValue(value: string, p: Placement): string {
  const c = CONTROL.exec(value);
  if (c) {
    const what = c[0] === '\n' ? 'a newline' : c[0] === '\r' ? 'a carriage return' : `a control character (U+${c[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()})`;
    refuse(p, `has ${what} in it, which would start a new line in ${p.file}`);
  }
  if (value.endsWith('\\') && /^(\r?\n|$)/.test(p.next)) refuse(p, 'ends with a backslash at the end of a line, which would join the next line to it');
  return value.replace(/%/g, '%%');
}

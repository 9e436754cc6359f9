/**
 * A small systemd unit file parser that keeps positions: sections, repeated keys (kept in order),
 * `\` line continuations, `#`/`;` comments. Generic INI parsers mangle units; this one does not
 * interpret values, it only splits them out with their line and column.
 */

export interface UnitEntry {
  section: string;
  key: string;
  /** value with continuations joined by a space, surrounding whitespace trimmed */
  value: string;
  line: number;
  /** column of the key */
  col: number;
  /** column of the value's first character on `line` */
  valueCol: number;
}

export interface UnitSection {
  name: string;
  line: number;
  col: number;
}

export interface UnitSyntaxError {
  line: number;
  col: number;
  message: string;
}

export interface ParsedUnit {
  sections: UnitSection[];
  entries: UnitEntry[];
  errors: UnitSyntaxError[];
}

export function parseUnit(text: string): ParsedUnit {
  const lines = text.split('\n');
  const sections: UnitSection[] = [];
  const entries: UnitEntry[] = [];
  const errors: UnitSyntaxError[] = [];
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].replace(/\r$/, '');
    const lead = raw.length - raw.trimStart().length;
    const s = raw.trim();
    if (s === '' || s.startsWith('#') || s.startsWith(';')) continue;
    if (s.startsWith('[')) {
      const close = s.indexOf(']');
      if (close < 0 || s.slice(close + 1).trim() !== '') {
        errors.push({ line: i + 1, col: lead + 1, message: `bad section header "${s}": write [Section]` });
        continue;
      }
      section = s.slice(1, close);
      sections.push({ name: section, line: i + 1, col: lead + 1 });
      continue;
    }
    const eq = raw.indexOf('=');
    if (eq < 0) {
      errors.push({ line: i + 1, col: lead + 1, message: `line "${s}" is not KEY=VALUE, a [Section] or a comment` });
      continue;
    }
    const key = raw.slice(0, eq).trim();
    const rest = raw.slice(eq + 1);
    const valueCol = eq + 2 + (rest.length - rest.trimStart().length);
    const startLine = i + 1;
    // continuation: a trailing backslash joins the next line (comment lines inside are skipped)
    let value = rest.trim();
    while (value.endsWith('\\') && i + 1 < lines.length) {
      value = value.slice(0, -1);
      i++;
      const next = lines[i].replace(/\r$/, '').trim();
      if (next.startsWith('#') || next.startsWith(';')) {
        value += '\\';
        continue;
      }
      value += ' ' + next;
    }
    if (!section) {
      errors.push({ line: startLine, col: lead + 1, message: `"${key}=" is outside any section: put it under [Unit], [Service] or [Install]` });
      continue;
    }
    if (!/^[A-Za-z0-9_-]+$/.test(key)) {
      errors.push({ line: startLine, col: lead + 1, message: `"${key}" is not a valid key name` });
      continue;
    }
    entries.push({ section, key, value: value.trim(), line: startLine, col: lead + 1, valueCol });
  }
  return { sections, entries, errors };
}

/** Entries of one key in one section, in order (a repeated key is a list in systemd). */
export function entriesOf(unit: ParsedUnit, section: string, key: string): UnitEntry[] {
  return unit.entries.filter((e) => e.section === section && e.key === key);
}

/** The effective value of a single-valued key: the last assignment wins. */
export function lastEntry(unit: ParsedUnit, section: string, key: string): UnitEntry | undefined {
  const all = entriesOf(unit, section, key);
  return all[all.length - 1];
}

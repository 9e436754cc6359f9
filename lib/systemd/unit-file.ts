/**
 * One model of a systemd unit, drop-in or any systemd INI file (systemd.syntax(7)), read the way
 * systemd reads it and kept line for line, so that what is not changed is written back byte for
 * byte. Every physical line belongs to one node: a blank line, a comment, a section header, an
 * entry (KEY=VALUE with its `\` continuation lines and the comment lines inside them), or a line
 * that is none of these (kept, and reported in `errors` with its position).
 *
 * Read as systemd does: `#` and `;` start a comment only at the start of a line; a line ending in
 * an odd number of backslashes continues on the next (the backslash becomes a space, comment lines
 * inside the continuation are skipped); a section may appear more than once and its entries add
 * up; a key may be repeated (a list), and for single-valued keys the last one wins.
 */

export interface UnitPosition {
  /** 1-based */
  line: number;
  /** 1-based column */
  col: number;
}

export interface UnitEntry extends UnitPosition {
  section: string;
  key: string;
  /** continuations joined (each `\` and line break becomes a space), surrounding whitespace trimmed */
  value: string;
  /** column of the value's first character on `line` */
  valueCol: number;
}

export interface UnitSectionHeader extends UnitPosition {
  name: string;
}

export interface UnitSyntaxError extends UnitPosition {
  message: string;
}

type Node =
  | { kind: 'blank' | 'comment' | 'invalid'; lines: string[] }
  | { kind: 'section'; lines: string[]; header: UnitSectionHeader }
  | { kind: 'entry'; lines: string[]; entry: UnitEntry };

const isComment = (s: string) => s.startsWith('#') || s.startsWith(';');
const KEY = /^[A-Za-z0-9_-]+$/;

/** A line continues on the next when it ends in an odd number of backslashes (an escaped one does not). */
function continues(s: string): boolean {
  let n = 0;
  while (n < s.length && s[s.length - 1 - n] === '\\') n++;
  return n % 2 === 1;
}

function refuseNewline(what: string, v: string): void {
  if (/[\r\n]/.test(v)) throw new Error(`unit ${what} ${JSON.stringify(v)} has a line break in it`);
}

export class UnitFile {
  private nodes: Node[] = [];
  private finalNewline = false;
  /** lines that are not a comment, a [Section] or a KEY=VALUE inside a section */
  readonly errors: UnitSyntaxError[] = [];

  static parse(text: string): UnitFile {
    const u = new UnitFile();
    if (text === '') return u;
    u.finalNewline = text.endsWith('\n');
    const lines = (u.finalNewline ? text.slice(0, -1) : text).split('\n');
    let section = '';
    for (let i = 0; i < lines.length; i++) {
      const raw = lines[i];
      const bare = raw.replace(/\r$/, '');
      const lead = bare.length - bare.trimStart().length;
      const s = bare.trim();
      const at = { line: i + 1, col: lead + 1 };
      if (s === '') {
        u.nodes.push({ kind: 'blank', lines: [raw] });
        continue;
      }
      if (isComment(s)) {
        u.nodes.push({ kind: 'comment', lines: [raw] });
        continue;
      }
      if (s.startsWith('[')) {
        if (!s.endsWith(']') || s.indexOf(']') !== s.length - 1) {
          u.invalid([raw], at, `bad section header "${s}": write [Section]`);
          continue;
        }
        section = s.slice(1, -1);
        u.nodes.push({ kind: 'section', lines: [raw], header: { name: section, ...at } });
        continue;
      }
      const eq = bare.indexOf('=');
      if (eq < 0) {
        u.invalid([raw], at, `line "${s}" is not KEY=VALUE, a [Section] or a comment`);
        continue;
      }
      const key = bare.slice(0, eq).trim();
      const rest = bare.slice(eq + 1);
      const valueCol = eq + 2 + (rest.length - rest.trimStart().length);
      const own = [raw];
      let value = rest.trim();
      while (continues(value)) {
        value = value.slice(0, -1);
        if (i + 1 >= lines.length) break;
        i++;
        own.push(lines[i]);
        const next = lines[i].replace(/\r$/, '').trim();
        if (isComment(next)) value += '\\';
        else value += ' ' + next;
      }
      if (!section) {
        u.invalid(own, at, `"${key}=" is outside any section: put it under [Unit], [Service] or [Install]`);
        continue;
      }
      if (!KEY.test(key)) {
        u.invalid(own, at, `"${key}" is not a valid key name`);
        continue;
      }
      u.nodes.push({ kind: 'entry', lines: own, entry: { section, key, value: value.trim(), ...at, valueCol } });
    }
    return u;
  }

  private invalid(lines: string[], at: UnitPosition, message: string): void {
    this.nodes.push({ kind: 'invalid', lines });
    this.errors.push({ ...at, message });
  }

  /** The text, byte for byte as parsed where nothing was changed. */
  toString(): string {
    const text = this.nodes.flatMap((n) => n.lines).join('\n');
    return this.finalNewline ? text + '\n' : text;
  }

  /** Section headers in order (a section written twice is listed twice). */
  get sections(): UnitSectionHeader[] {
    return this.nodes.flatMap((n) => (n.kind === 'section' ? [n.header] : []));
  }

  /** Entries in file order, all of them or those of one section (and key). */
  entries(section?: string, key?: string): UnitEntry[] {
    return this.nodes.flatMap((n) =>
      n.kind === 'entry' && (section === undefined || n.entry.section === section) && (key === undefined || n.entry.key === key) ? [n.entry] : [],
    );
  }

  /** The entry that decides a single-valued key: the last one. */
  last(section: string, key: string): UnitEntry | undefined {
    const all = this.entries(section, key);
    return all[all.length - 1];
  }

  /** The value of a single-valued key (the last assignment wins), or undefined. */
  get(section: string, key: string): string | undefined {
    return this.last(section, key)?.value;
  }

  /**
   * Every value of a list key, in order. An empty assignment empties the list in systemd
   * (`ExecStop=` after an `ExecStop=x` leaves none), so only the values after the last one count.
   */
  getAll(section: string, key: string): string[] {
    const out: string[] = [];
    for (const e of this.entries(section, key)) {
      if (e.value === '') out.length = 0;
      else out.push(e.value);
    }
    return out;
  }

  has(section: string, key: string): boolean {
    return this.last(section, key) !== undefined;
  }

  hasSection(section: string): boolean {
    return this.sections.some((s) => s.name === section);
  }

  /** KEY=VALUE in place of every assignment of the key (where the first was), or added to the section. */
  set(section: string, key: string, value: string): this {
    const first = this.nodes.findIndex((n) => n.kind === 'entry' && n.entry.section === section && n.entry.key === key);
    if (first < 0) return this.add(section, key, value);
    const node = this.entryNode(section, key, value);
    // the first assignment becomes the new one, the others go (none comes before the first)
    this.nodes[first] = node;
    this.dropEntries(section, key, node);
    return this.renumber();
  }

  /** KEY=VALUE after the section's last entry (a new [Section] at the end when there is none). */
  add(section: string, key: string, value: string): this {
    const node = this.entryNode(section, key, value);
    let at = -1;
    let current = '';
    this.nodes.forEach((n, i) => {
      if (n.kind === 'section') current = n.header.name;
      if (current === section && (n.kind === 'entry' || n.kind === 'section')) at = i;
    });
    if (at < 0) {
      // a section of its own, after a blank line when the file has text
      const head: Node[] = this.nodes.length ? [{ kind: 'blank', lines: [''] }] : [];
      this.nodes.push(...head, { kind: 'section', lines: [`[${section}]`], header: { name: section, line: 0, col: 1 } }, node);
    } else this.nodes.splice(at + 1, 0, node);
    this.finalNewline = true;
    return this.renumber();
  }

  /** Removes every assignment of the key in the section; true when there was one. */
  remove(section: string, key: string): boolean {
    const before = this.nodes.length;
    this.dropEntries(section, key);
    this.renumber();
    return this.nodes.length !== before;
  }

  private dropEntries(section: string, key: string, keep?: Node): void {
    this.nodes = this.nodes.filter((n) => n === keep || !(n.kind === 'entry' && n.entry.section === section && n.entry.key === key));
  }

  private entryNode(section: string, key: string, value: string): Node {
    if (!KEY.test(key)) throw new Error(`unit key ${JSON.stringify(key)} is not a valid key name`);
    refuseNewline('value', value);
    refuseNewline('section', section);
    return { kind: 'entry', lines: [`${key}=${value}`], entry: { section, key, value: value.trim(), line: 0, col: 1, valueCol: key.length + 2 } };
  }

  /** Positions follow the lines as they now are. */
  private renumber(): this {
    let line = 1;
    for (const n of this.nodes) {
      if (n.kind === 'entry') n.entry.line = line;
      if (n.kind === 'section') n.header.line = line;
      line += n.lines.length;
    }
    return this;
  }
}

/** Parses a unit, drop-in or other systemd INI text. */
export function parseUnitFile(text: string): UnitFile {
  return UnitFile.parse(text);
}

/**
 * A unit's [Install] section as `systemctl enable` reads it (comments, blank lines and spacing do
 * not count, continuation lines joined, every [Install] of the file), one KEY=VALUE a line: two
 * units that give the same string are enabled the same way.
 */
export function installSection(unit: string): string {
  // values are lists of words to systemd: runs of spaces do not count either
  return UnitFile.parse(unit).entries('Install').map((e) => `${e.key}=${e.value.replace(/\s+/g, ' ')}`).join('\n');
}

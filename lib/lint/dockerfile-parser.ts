/**
 * Dockerfile parser: instructions with their line numbers, `\` (or `# escape=` directive)
 * continuations, comment lines inside continuations skipped. Every character of an instruction's
 * joined arguments maps back to its line and column.
 */

export interface DockerInstruction {
  /** upper-cased: FROM, RUN, COPY ... */
  keyword: string;
  /** arguments, continuation lines joined as Docker joins them (escape + newline removed) */
  args: string;
  line: number;
  col: number;
  /** per character of `args`: [line, col] (1-based) */
  positions: Array<[number, number]>;
  /** the stage index (0 for instructions before/at the first FROM) */
  stage: number;
}

export function parseDockerfile(text: string): DockerInstruction[] {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  let escape = '\\';
  // parser directives come first, before any instruction or other comment
  for (const l of lines) {
    const m = /^#\s*escape\s*=\s*([\\`])\s*$/i.exec(l);
    if (m) {
      escape = m[1];
      break;
    }
    if (!/^#\s*\w+\s*=/.test(l)) break;
  }
  const out: DockerInstruction[] = [];
  let stage = -1;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) continue;
    const lead = raw.length - raw.trimStart().length;
    const m = /^(\S+)(\s*)/.exec(raw.slice(lead));
    if (!m) continue;
    const keyword = m[1].toUpperCase();
    const line = i + 1;
    let args = '';
    const positions: Array<[number, number]> = [];
    let from = lead + m[0].length;
    let cur = i;
    while (true) {
      let part = lines[cur].slice(from);
      let trimmedEnd = part.replace(/\s+$/, '');
      const continued = trimmedEnd.endsWith(escape);
      if (continued) trimmedEnd = trimmedEnd.slice(0, -1);
      part = trimmedEnd;
      for (let k = 0; k < part.length; k++) positions.push([cur + 1, from + k + 1]);
      args += part;
      if (!continued) break;
      // skip empty and comment lines inside a continuation
      let next = cur + 1;
      while (next < lines.length && (lines[next].trim() === '' || lines[next].trim().startsWith('#'))) next++;
      if (next >= lines.length) break;
      // Docker joins continuation lines as they are (the escape and newline removed)
      cur = next;
      from = 0;
    }
    // heredocs (RUN <<EOF ... EOF): their lines belong to the instruction
    for (const m of args.matchAll(/<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2/g)) {
      const [, dash, , word] = m;
      while (cur + 1 < lines.length) {
        cur++;
        const body = lines[cur];
        if ((dash ? body.trim() : body) === word) break;
        args += '\n';
        positions.push([cur + 1, 1]);
        for (let k = 0; k < body.length; k++) positions.push([cur + 1, k + 1]);
        args += body;
      }
    }
    i = cur;
    if (keyword === 'FROM') stage++;
    out.push({ keyword, args, line, col: lead + 1, positions, stage: Math.max(stage, 0) });
  }
  return out;
}

/** Position of a character of an instruction's args (the instruction's start when out of range). */
export function argPosition(ins: DockerInstruction, index: number): { line: number; col: number } {
  const p = ins.positions[index];
  return p ? { line: p[0], col: p[1] } : { line: ins.line, col: ins.col };
}

/** Splits args into words (shell-ish: quotes kept together), with their start index in args. */
export function words(args: string): Array<{ text: string; index: number }> {
  const out: Array<{ text: string; index: number }> = [];
  const re = /(?:"[^"]*"|'[^']*'|[^\s"'])+/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(args))) out.push({ text: m[0], index: m.index });
  return out;
}

/** COPY/ADD sources and destination: JSON form or words, flags (--chown=...) dropped. */
export function copyOperands(ins: DockerInstruction): { sources: Array<{ text: string; index: number }>; dest?: { text: string; index: number } } {
  const a = ins.args.trim();
  let items: Array<{ text: string; index: number }>;
  if (a.startsWith('[')) {
    try {
      const arr = JSON.parse(a) as string[];
      let from = 0;
      items = arr.map((s) => {
        const idx = ins.args.indexOf(JSON.stringify(s), from);
        from = idx + 1;
        return { text: s, index: idx + 1 };
      });
    } catch {
      items = words(ins.args);
    }
  } else items = words(ins.args).filter((w) => !w.text.startsWith('--'));
  if (items.length < 2) return { sources: items };
  return { sources: items.slice(0, -1), dest: items[items.length - 1] };
}

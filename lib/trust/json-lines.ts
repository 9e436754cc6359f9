/**
 * The line of every value in a JSON text, by its path (the same paths policy.ts prints), and the
 * first key that appears twice in one object: JSON.parse keeps the last silently, containers/image
 * refuses the file. Call it on text JSON.parse accepted; it only walks, it does not validate.
 */
export interface JsonLines {
  lines: Map<string, number>;
  duplicate?: { path: string; line: number };
}

export function pathKey(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return /^[A-Za-z_][\w-]*$/.test(key) ? `${parent ? parent + '.' : ''}${key}` : `${parent}[${JSON.stringify(key)}]`;
}

export function jsonLines(text: string): JsonLines {
  const out: JsonLines = { lines: new Map() };
  let i = 0;
  let line = 1;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) if (text[i++] === '\n') line++;
  };
  const str = (): string => {
    const start = i;
    i++;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (p: string): void => {
    ws();
    out.lines.set(p, line);
    const c = text[i];
    if (c === '{') {
      i++;
      const seen = new Set<string>();
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        const keyLine = line;
        const k = str();
        const kp = pathKey(p, k);
        if (seen.has(k) && !out.duplicate) out.duplicate = { path: kp, line: keyLine };
        seen.add(k);
        ws();
        i++; // ':'
        value(kp);
        out.lines.set(kp, keyLine);
        ws();
        if (text[i++] === '}') return;
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (let n = 0; ; n++) {
        value(pathKey(p, n));
        ws();
        if (text[i++] === ']') return;
      }
    } else if (c === '"') str();
    else while (i < text.length && !/[\s,\]}]/.test(text[i])) i++;
  };
  value('');
  return out;
}

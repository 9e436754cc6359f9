/**
 * A small JSON parser that remembers where every value is, so that a JSON pointer (from ajv, or a
 * lint rule) can be turned into an offset in the text, and from there into a template line.
 * It accepts exactly RFC 8259 JSON and reports the first syntax error with its offset.
 */

export interface JsonLocation {
  /** offset of the value's first character */
  valueOffset: number;
  /** offset of the member name (the opening quote), for object members */
  keyOffset?: number;
}

export interface JsonDocument {
  value: unknown;
  /** JSON pointer ('' for the root, '/process/terminal', '/mounts/3/type') to location */
  locations: Map<string, JsonLocation>;
  /** member names given twice in one object: pointer of the second */
  duplicateKeys: string[];
}

export class JsonSyntaxError extends Error {
  constructor(message: string, readonly offset: number) {
    super(message);
  }
}

export function escapePointerToken(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * Nesting deeper than this is refused: no runtime config or manifest comes near it (they nest
 * fewer than 10 levels), and a parser that recurses per level would overflow its stack on a file
 * that nests 20,000 levels.
 */
export const MAX_JSON_DEPTH = 256;

/** Parses JSON, or throws JsonSyntaxError with the offset of the problem. */
export function parseJsonWithLocations(text: string): JsonDocument {
  const locations = new Map<string, JsonLocation>();
  const duplicateKeys: string[] = [];
  let i = 0;
  const ws = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
  };
  const fail = (msg: string, at = i): never => {
    throw new JsonSyntaxError(msg, at);
  };
  const describe = (at: number) => (at >= text.length ? 'end of text' : JSON.stringify(text[at]));

  const parseString = (): string => {
    const start = i;
    i++; // opening quote
    let out = '';
    let chunk = i;
    while (true) {
      if (i >= text.length) fail('unterminated string', start);
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) fail('control character in string (escape it, e.g. \\n)');
      if (c === 0x5c) {
        out += text.slice(chunk, i);
        const e = text[i + 1];
        const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e !== undefined && e in simple) {
          out += simple[e];
          i += 2;
        } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
          out += String.fromCharCode(Number.parseInt(text.slice(i + 2, i + 6), 16));
          i += 6;
        } else fail(`invalid escape "\\${e ?? ''}" in string`);
        chunk = i;
        continue;
      }
      i++;
    }
    out += text.slice(chunk, i);
    i++; // closing quote
    return out;
  };

  let depth = 0;
  const parseValue = (ptr: string, keyOffset?: number): unknown => {
    ws();
    const start = i;
    if ((text[i] === '{' || text[i] === '[') && ++depth > MAX_JSON_DEPTH) fail(`nested more than ${MAX_JSON_DEPTH} levels deep; refused`);
    try {
      return parseValueAt(ptr, start, keyOffset);
    } finally {
      if (text[start] === '{' || text[start] === '[') depth--;
    }
  };

  const parseValueAt = (ptr: string, start: number, keyOffset?: number): unknown => {
    locations.set(ptr, keyOffset === undefined ? { valueOffset: start } : { valueOffset: start, keyOffset });
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: Record<string, unknown> = {};
      const seen = new Set<string>();
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      while (true) {
        ws();
        if (text[i] !== '"') fail(`expected a member name in quotes, found ${describe(i)}`);
        const kOff = i;
        const key = parseString();
        ws();
        if (text[i] !== ':') fail(`expected ":" after member name, found ${describe(i)}`);
        i++;
        const childPtr = `${ptr}/${escapePointerToken(key)}`;
        if (seen.has(key)) duplicateKeys.push(childPtr);
        seen.add(key);
        const v = parseValue(childPtr, kOff);
        Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true });
        const valueEnd = i;
        ws();
        if (text[i] === ',') {
          const comma = i++;
          ws();
          if (text[i] === '}') fail('trailing comma before "}"', comma);
          continue;
        }
        if (text[i] === '}') {
          i++;
          return obj;
        }
        // where the comma is missing: right after the value, not at the next line's member
        fail(`expected "," or "}" after this value, found ${describe(i)}`, text[i] === '"' ? valueEnd : i);
      }
    }
    if (c === '[') {
      i++;
      const arr: unknown[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      while (true) {
        arr.push(parseValue(`${ptr}/${arr.length}`));
        const valueEnd = i;
        ws();
        if (text[i] === ',') {
          const comma = i++;
          ws();
          if (text[i] === ']') fail('trailing comma before "]"', comma);
          continue;
        }
        if (text[i] === ']') {
          i++;
          return arr;
        }
        fail(`expected "," or "]" after this value, found ${describe(i)}`, /^["{[0-9tfn-]/.test(text[i] ?? '') ? valueEnd : i);
      }
    }
    if (c === '"') return parseString();
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 64));
    if (m && m[0].length) {
      i += m[0].length;
      return Number(m[0]);
    }
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    return fail(`expected a value, found ${describe(i)}`);
  };

  const value = parseValue('');
  ws();
  if (i < text.length) fail(`unexpected ${describe(i)} after the end of the JSON value`);
  return { value, locations, duplicateKeys };
}

/** The location of a pointer, or of its nearest ancestor that exists (ajv reports missing members at the parent). */
export function locatePointer(doc: JsonDocument, pointer: string, prefer: 'key' | 'value' = 'key'): number {
  let p = pointer;
  while (true) {
    const loc = doc.locations.get(p);
    if (loc) return prefer === 'key' && loc.keyOffset !== undefined ? loc.keyOffset : loc.valueOffset;
    if (p === '') return 0;
    p = p.slice(0, p.lastIndexOf('/'));
  }
}

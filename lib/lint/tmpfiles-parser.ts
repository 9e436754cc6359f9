/**
 * tmpfiles.d line parser (tmpfiles.d(5)): `Type Path Mode User Group Age Argument`, whitespace
 * separated, `"..."` quoting for fields, `#` comments. Each field keeps its offset in the text.
 */

export interface TmpfilesField {
  text: string;
  /** offset of the field's first character in the whole text */
  offset: number;
}

export interface TmpfilesLine {
  line: number;
  /** offset of the line's first character */
  offset: number;
  fields: TmpfilesField[];
  /** an unterminated quote, if any */
  error?: string;
}

export function parseTmpfiles(text: string): TmpfilesLine[] {
  const out: TmpfilesLine[] = [];
  let offset = 0;
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n];
    const lineOffset = offset;
    offset += raw.length + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const fields: TmpfilesField[] = [];
    let error: string | undefined;
    let i = 0;
    // the argument (7th field) is the rest of the line, unsplit
    while (i < raw.length) {
      while (i < raw.length && /\s/.test(raw[i])) i++;
      if (i >= raw.length) break;
      if (fields.length === 6) {
        fields.push({ text: raw.slice(i).trimEnd(), offset: lineOffset + i });
        break;
      }
      const start = i;
      let value = '';
      while (i < raw.length && !/\s/.test(raw[i])) {
        if (raw[i] === '"' || raw[i] === "'") {
          const q = raw[i];
          const close = raw.indexOf(q, i + 1);
          if (close < 0) {
            error = `unterminated ${q} quote`;
            value += raw.slice(i + 1);
            i = raw.length;
            break;
          }
          value += raw.slice(i + 1, close);
          i = close + 1;
        } else value += raw[i++];
      }
      fields.push({ text: value, offset: lineOffset + start });
    }
    out.push({ line: n + 1, offset: lineOffset, fields, error });
  }
  return out;
}

/**
 * Field-level parsing for the tar reader (lib/layer/tar-reader.ts): numeric header fields in octal
 * or GNU base-256, NUL-ended strings, the header checksum, PAX records and the extended attributes
 * sysctr keeps. The rules are written down in docs/tar.md.
 */

export class TarFormatError extends Error {}

export const BLOCK = 512;

/**
 * Only the attributes a root filesystem needs are kept: `security.capability` (file capabilities)
 * and `user.*`. SELinux labels come from the build host, and `trusted.overlay.*` are the build's
 * overlayfs internals; umoci leaves those out too.
 */
export function keptXattr(name: string): boolean {
  return name === 'security.capability' || name.startsWith('user.');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes as UTF-8, refusing what is not (a name decoded with replacement characters would be another name). */
export function decodeUtf8(b: Uint8Array, what: string): string {
  let ascii = true;
  for (let i = 0; i < b.length; i++) {
    if (b[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
  try {
    return utf8.decode(b);
  } catch {
    throw new TarFormatError(`${what} is not valid UTF-8 (${Buffer.from(b).toString('hex').slice(0, 80)})`);
  }
}

/** A string field: up to its first NUL. */
export function cString(h: Buffer, from: number, len: number): Buffer {
  const end = from + len;
  let i = from;
  while (i < end && h[i] !== 0) i++;
  return h.subarray(from, i);
}

/**
 * A numeric field. The high bit of the first byte marks GNU base-256 (big-endian two's complement,
 * so negative values exist); otherwise octal digits, with spaces and NULs around them allowed.
 * Returns NaN for a field that is neither, and ±Infinity for a value beyond 2^53.
 */
export function parseNumeric(h: Buffer, from: number, len: number): number {
  const first = h[from];
  if (first & 0x80) {
    const negative = (first & 0x40) !== 0;
    let n = 0;
    for (let i = 0; i < len; i++) {
      let byte = i === 0 ? first & 0x7f : h[from + i];
      if (negative) byte = (i === 0 ? ~first & 0x7f : ~byte & 0xff) as number;
      n = n * 256 + byte;
      if (n > Number.MAX_SAFE_INTEGER) return negative ? -Infinity : Infinity;
    }
    return negative ? -(n + 1) : n;
  }
  let i = from;
  let end = from + len;
  while (i < end && (h[i] === 0x20 || h[i] === 0)) i++;
  while (end > i && (h[end - 1] === 0x20 || h[end - 1] === 0)) end--;
  let n = 0;
  for (; i < end; i++) {
    const c = h[i] - 0x30;
    if (c < 0 || c > 7) return NaN;
    n = n * 8 + c;
  }
  return n > Number.MAX_SAFE_INTEGER ? Infinity : n;
}

/** Whether the header's checksum holds, summed as unsigned or as signed bytes (old writers did either). */
export function checksumOk(h: Buffer): boolean {
  const want = parseNumeric(h, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : h[i];
    unsigned += b;
    signed += b < 128 ? b : b - 256;
  }
  return want === unsigned || want === signed;
}

export function isZeroBlock(h: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (h[i] !== 0) return false;
  return true;
}

export type PaxRecords = Map<string, Buffer>;

/**
 * PAX records "LEN KEY=VALUE\n", LEN counting the whole record in bytes; values may be binary.
 * GNU sparse 0.0 repeats GNU.sparse.offset / GNU.sparse.numbytes: those pairs are gathered, in
 * order, into `sparse00`. Trailing NUL padding is tolerated; anything else malformed is refused.
 */
export function parsePax(buf: Buffer, where: string): { records: PaxRecords; sparse00: number[] } {
  const records: PaxRecords = new Map();
  const sparse00: number[] = [];
  let pos = 0;
  while (pos < buf.length) {
    if (buf[pos] === 0) {
      if (buf.subarray(pos).every((b) => b === 0)) break;
    }
    const sp = buf.indexOf(0x20, pos);
    const lenText = sp < 0 ? '' : buf.toString('latin1', pos, sp);
    const len = /^[0-9]{1,10}$/.test(lenText) ? Number(lenText) : NaN;
    if (!(len > sp - pos + 1) || pos + len > buf.length || buf[pos + len - 1] !== 0x0a) {
      throw new TarFormatError(`${where}: malformed PAX record at byte ${pos} of the extended header`);
    }
    const eq = buf.indexOf(0x3d, sp + 1);
    if (eq < 0 || eq >= pos + len - 1 || eq === sp + 1) throw new TarFormatError(`${where}: PAX record without KEY= at byte ${pos}`);
    const key = decodeUtf8(buf.subarray(sp + 1, eq), `${where}: PAX key`);
    const value = buf.subarray(eq + 1, pos + len - 1);
    if (key === 'GNU.sparse.offset' || key === 'GNU.sparse.numbytes') {
      // offsets and sizes must alternate, offset first
      if ((key === 'GNU.sparse.offset') !== (sparse00.length % 2 === 0)) {
        throw new TarFormatError(`${where}: GNU.sparse.offset and GNU.sparse.numbytes records out of order`);
      }
      sparse00.push(paxInteger(value, key, where));
    } else records.set(key, value);
    pos += len;
  }
  return { records, sparse00 };
}

/** A non-negative decimal integer within 2^53. */
export function paxInteger(v: Buffer, key: string, where: string): number {
  const s = v.toString('latin1');
  if (!/^[0-9]{1,16}$/.test(s) || Number(s) > Number.MAX_SAFE_INTEGER) {
    throw new TarFormatError(`${where}: PAX ${key}=${JSON.stringify(s.slice(0, 40))} is not a valid size or number`);
  }
  return Number(s);
}

/** PAX mtime: decimal seconds, maybe negative, maybe with a fraction; whole seconds, rounded down. */
export function paxTime(v: Buffer, where: string): number {
  const s = v.toString('latin1');
  const m = /^(-?)([0-9]{1,15})(?:\.([0-9]*))?$/.exec(s);
  if (!m) throw new TarFormatError(`${where}: PAX mtime=${JSON.stringify(s.slice(0, 40))} is not a time`);
  const whole = Number(m[2]);
  const frac = m[3] && /[1-9]/.test(m[3]);
  return m[1] ? -whole - (frac ? 1 : 0) : whole;
}

/** The extended attributes sysctr keeps from PAX records (SCHILY raw bytes, LIBARCHIVE base64), as base64. */
export function paxXattrs(records: PaxRecords): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const [key, value] of records) {
    let name: string | undefined;
    let b64: string | undefined;
    if (key.startsWith('SCHILY.xattr.')) {
      name = key.slice('SCHILY.xattr.'.length);
      b64 = value.toString('base64');
    } else if (key.startsWith('LIBARCHIVE.xattr.')) {
      try {
        name = decodeURIComponent(key.slice('LIBARCHIVE.xattr.'.length));
      } catch {
        continue; // a name that is not URL-encoded text names nothing sysctr keeps
      }
      b64 = Buffer.from(value.toString('latin1'), 'base64').toString('base64');
    }
    if (name !== undefined && b64 !== undefined && keptXattr(name)) (out ??= {})[name] = b64;
  }
  return out;
}

/** A name field for a message, whatever its bytes. */
export function printable(b: Buffer): string {
  return b.toString('latin1').replace(/[^\x20-\x7e]/g, '?');
}

export function nonEmpty(b: Buffer | undefined): Buffer | undefined {
  return b?.length ? b : undefined;
}

export function padding(n: number): number {
  return (BLOCK - (n % BLOCK)) % BLOCK;
}

/** The name field, with the ustar prefix when the header is ustar (GNU uses that space for times). */
export function headerName(h: Buffer): Buffer {
  const name = cString(h, 0, 100);
  if (h[257] === 0x75 && h.toString('latin1', 257, 263) === 'ustar\0') {
    const prefix = cString(h, 345, 155);
    if (prefix.length) return Buffer.concat([prefix, Buffer.from('/'), name]);
  }
  return name;
}

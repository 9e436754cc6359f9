/**
 * Extended attributes of tar entries, read from the PAX headers that carry them
 * (`SCHILY.xattr.NAME`, raw bytes, as GNU tar, Docker and buildah write them; and libarchive's
 * `LIBARCHIVE.xattr.NAME`, base64). node-tar drops these keys and cuts binary values at the first
 * NUL, so this reads the tar stream's headers itself, beside the parser: it sees every byte just
 * before the parser does, and hands the attributes over by entry path.
 *
 * Only the attributes a root filesystem needs are kept: `security.capability` (file capabilities)
 * and `user.*`. SELinux labels come from the build host, and `trusted.overlay.*` are the build's
 * overlayfs internals; umoci leaves those out too.
 */

const BLOCK = 512;

export function keptXattr(name: string): boolean {
  return name === 'security.capability' || name.startsWith('user.');
}

export class PaxXattrScanner {
  /** entry path (as in the archive) -> name -> base64 value */
  private found = new Map<string, Record<string, string>>();
  private header = Buffer.alloc(BLOCK);
  private headerFill = 0;
  /** bytes of the current entry's body (and padding) still to skip or collect */
  private bodyLeft = 0;
  /** the body being collected (a PAX or GNU long-name header), or undefined to skip it */
  private body?: { kind: 'x' | 'g' | 'L'; buf: Buffer; fill: number; size: number };
  /** from a PAX header, for the next entry */
  private pending: { xattrs?: Record<string, string>; path?: string; size?: number } = {};
  private longName?: string;

  /** The attributes of the entry at this path (as the archive spells it), once. */
  take(path: string): Record<string, string> | undefined {
    const x = this.found.get(path);
    if (x) this.found.delete(path);
    return x;
  }

  write(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.bodyLeft > 0) {
        const n = Math.min(this.bodyLeft, chunk.length - i);
        const b = this.body;
        if (b && b.fill < b.size) {
          const m = Math.min(n, b.size - b.fill);
          chunk.copy(b.buf, b.fill, i, i + m);
          b.fill += m;
        }
        this.bodyLeft -= n;
        i += n;
        if (this.bodyLeft === 0 && b) this.endBody(b);
        continue;
      }
      const n = Math.min(BLOCK - this.headerFill, chunk.length - i);
      chunk.copy(this.header, this.headerFill, i, i + n);
      this.headerFill += n;
      i += n;
      if (this.headerFill === BLOCK) {
        this.headerFill = 0;
        this.onHeader(this.header);
      }
    }
  }

  private onHeader(h: Buffer): void {
    if (h[0] === 0 && h.every((b) => b === 0)) return; // end-of-archive blocks
    const type = String.fromCharCode(h[156]);
    let size = readSize(h.subarray(124, 136));
    if (type === 'x' || type === 'g' || type === 'L') {
      // metadata for what follows; bodies larger than this are not headers anyone writes
      const body = size <= 1 << 20 ? { kind: type as 'x' | 'g' | 'L', buf: Buffer.alloc(size), fill: 0, size } : undefined;
      this.startBody(size, body);
      return;
    }
    if (type === 'K') return this.startBody(size, undefined); // GNU long link name: not needed here
    const p = this.pending;
    if (p.size !== undefined) size = p.size;
    if (p.xattrs) this.found.set(p.path ?? this.longName ?? ustarName(h), p.xattrs);
    if (p.size !== undefined || p.path !== undefined || p.xattrs) this.pending = {};
    this.longName = undefined;
    this.startBody(size, undefined);
  }

  private startBody(size: number, body: PaxXattrScanner['body']): void {
    this.bodyLeft = Math.ceil(size / BLOCK) * BLOCK;
    this.body = body;
    if (this.bodyLeft === 0 && body) this.endBody(body);
  }

  private endBody(b: NonNullable<PaxXattrScanner['body']>): void {
    this.body = undefined;
    if (b.kind === 'L') {
      const nul = b.buf.indexOf(0);
      this.longName = b.buf.subarray(0, nul < 0 ? b.buf.length : nul).toString('utf8');
      return;
    }
    if (b.kind === 'g') return; // global headers: no per-file attributes
    for (const [key, value] of paxRecords(b.buf)) {
      if (key === 'path') this.pending.path = value.toString('utf8');
      else if (key === 'size') this.pending.size = Number(value.toString('latin1'));
      else {
        let name: string | undefined;
        let b64: string | undefined;
        if (key.startsWith('SCHILY.xattr.')) {
          name = key.slice('SCHILY.xattr.'.length);
          b64 = value.toString('base64');
        } else if (key.startsWith('LIBARCHIVE.xattr.')) {
          name = decodeURIComponent(key.slice('LIBARCHIVE.xattr.'.length));
          b64 = Buffer.from(value.toString('latin1'), 'base64').toString('base64');
        }
        if (name && b64 !== undefined && keptXattr(name)) (this.pending.xattrs ??= {})[name] = b64;
      }
    }
  }
}

/** PAX records "LEN KEY=VALUE\n", LEN counting the whole record in bytes; values may be binary. */
function* paxRecords(buf: Buffer): Generator<[string, Buffer]> {
  let pos = 0;
  while (pos < buf.length) {
    const sp = buf.indexOf(0x20, pos);
    if (sp < 0) return;
    const len = Number(buf.subarray(pos, sp).toString('latin1'));
    if (!Number.isInteger(len) || len <= sp - pos || pos + len > buf.length) return;
    const rec = buf.subarray(sp + 1, pos + len - 1); // without the trailing newline
    const eq = rec.indexOf(0x3d);
    if (eq > 0) yield [rec.subarray(0, eq).toString('utf8'), rec.subarray(eq + 1)];
    pos += len;
  }
}

function readSize(f: Buffer): number {
  if (f[0] & 0x80) {
    // base-256 (GNU): big-endian, the top bit of the first byte is the marker
    let n = f[0] & 0x7f;
    for (let i = 1; i < f.length; i++) n = n * 256 + f[i];
    return n;
  }
  // octal digits, maybe after spaces, ended by NUL or space
  let n = 0;
  for (const c of f) {
    if (c >= 0x30 && c <= 0x37) n = n * 8 + (c - 0x30);
    else if (c === 0 || (c === 0x20 && n > 0)) break;
  }
  return n;
}

function ustarName(h: Buffer): string {
  const field = (from: number, to: number) => {
    const b = h.subarray(from, to);
    const nul = b.indexOf(0);
    return b.subarray(0, nul < 0 ? b.length : nul).toString('utf8');
  };
  const name = field(0, 100);
  const prefix = h.subarray(257, 262).toString('latin1') === 'ustar' ? field(345, 500) : '';
  return prefix ? `${prefix}/${name}` : name;
}

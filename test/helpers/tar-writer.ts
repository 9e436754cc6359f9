/**
 * A minimal tar writer for tests: ustar headers plus PAX records for long names, with no
 * sanitising at all, so tests can build hostile layers ("../x", "/etc/x", links out of the root).
 */
export interface TarEntry {
  path: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo' | 'chardev';
  content?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  /** symlink or hardlink target */
  target?: string;
  /** extra PAX records before the entry, e.g. ['SCHILY.xattr.user.a', Buffer] (values may be binary) */
  pax?: Array<[string, string | Buffer]>;
}

const TYPEFLAG = { file: '0', hardlink: '1', symlink: '2', chardev: '3', dir: '5', fifo: '6' } as const;

function octal(n: number, len: number): string {
  return n.toString(8).padStart(len - 1, '0') + '\0';
}

function header(fields: { name: string; mode: number; uid: number; gid: number; size: number; mtime: number; type: string; link: string }): Buffer {
  const b = Buffer.alloc(512, 0);
  b.write(fields.name, 0, 100, 'utf8');
  b.write(octal(fields.mode, 8), 100);
  b.write(octal(fields.uid, 8), 108);
  b.write(octal(fields.gid, 8), 116);
  b.write(octal(fields.size, 12), 124);
  b.write(octal(fields.mtime, 12), 136);
  b.write('        ', 148);
  b.write(fields.type, 156);
  b.write(fields.link, 157, 100, 'utf8');
  b.write('ustar\0', 257);
  b.write('00', 263);
  b.write('root', 265);
  b.write('root', 297);
  let sum = 0;
  for (const x of b) sum += x;
  b.write(octal(sum, 7) + ' ', 148);
  return b;
}

function pad(buf: Buffer): Buffer[] {
  const rem = buf.length % 512;
  return rem ? [buf, Buffer.alloc(512 - rem)] : [buf];
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return `${len}${body}`;
}

/** A PAX record whose value is bytes: its length prefix counts bytes, itself included. */
function binaryPaxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.byteLength(` ${key}=`) + value.length + 1;
  let len = rest + 1;
  while (String(len).length + rest !== len) len = String(len).length + rest;
  return Buffer.concat([Buffer.from(`${len} ${key}=`), value, Buffer.from('\n')]);
}

export function tarBuffer(entries: TarEntry[]): Buffer {
  const out: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? 'file';
    const content = type === 'file' ? Buffer.from(e.content ?? '') : Buffer.alloc(0);
    const name = type === 'dir' && !e.path.endsWith('/') ? e.path + '/' : e.path;
    const link = e.target ?? '';
    if (Buffer.byteLength(name) > 99 || Buffer.byteLength(link) > 99 || e.pax?.length) {
      let pax = Buffer.byteLength(name) > 99 ? paxRecord('path', name) : '';
      if (link && Buffer.byteLength(link) > 99) pax += paxRecord('linkpath', link);
      const body = Buffer.concat([Buffer.from(pax), ...(e.pax ?? []).map(([k, v]) => binaryPaxRecord(k, Buffer.from(v)))]);
      out.push(header({ name: 'PaxHeader', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: 0, type: 'x', link: '' }), ...pad(body));
    }
    out.push(
      header({
        name: name.slice(0, 99),
        mode: e.mode ?? (type === 'dir' ? 0o755 : type === 'symlink' ? 0o777 : 0o644),
        uid: e.uid ?? 0,
        gid: e.gid ?? 0,
        size: content.length,
        mtime: e.mtime ?? 1700000000,
        type: TYPEFLAG[type],
        link: link.slice(0, 99),
      }),
    );
    if (content.length) out.push(...pad(content));
  }
  out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}

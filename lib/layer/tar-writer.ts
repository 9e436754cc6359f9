/**
 * A small POSIX tar (ustar + PAX) writer for sysctr's backups (lib/deploy/backup.ts): headers for
 * directories, regular files, symlinks and hardlinks; a PAX extended header whenever a name, a
 * link target, a size or an id does not fit the ustar fields. The archives it writes are read
 * back by lib/layer/tar-reader.ts (and by GNU tar and bsdtar).
 */
import { BLOCK } from './tar-fields.js';

export interface TarWriteEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink';
  mode: number;
  uid: number;
  gid: number;
  /** seconds */
  mtime: number;
  /** file: its length in bytes (the data follows through TarWriter.data) */
  size?: number;
  linkname?: string;
}

const TYPEFLAG = { file: '0', hardlink: '1', symlink: '2', dir: '5' } as const;

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function fits(n: number, width: number): boolean {
  return n >= 0 && n < 8 ** (width - 1);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const n = Buffer.byteLength(body);
  // the length counts its own digits
  let len = n + String(n).length;
  if (String(len).length !== String(n).length) len = n + String(len).length;
  return `${len}${body}`;
}

function header(e: { name: string; type: string; mode: number; uid: number; gid: number; size: number; mtime: number; linkname: string }): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(e.name, 0, 100, 'utf8');
  h.write(octal(e.mode & 0o7777, 8), 100, 'ascii');
  h.write(octal(fits(e.uid, 8) ? e.uid : 0, 8), 108, 'ascii');
  h.write(octal(fits(e.gid, 8) ? e.gid : 0, 8), 116, 'ascii');
  h.write(octal(fits(e.size, 12) ? e.size : 0, 12), 124, 'ascii');
  h.write(octal(Math.max(0, Math.floor(e.mtime)), 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(e.type, 156, 'ascii');
  h.write(e.linkname, 157, 100, 'utf8');
  h.write('ustar\u000000', 257, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

/** Pushes tar bytes to `sink` (a stream's write, which may apply backpressure by returning a promise). */
export class TarWriter {
  private dataLeft = 0;
  private padTo = 0;
  /** bytes written so far */
  written = 0;

  constructor(private readonly sink: (b: Buffer) => void | Promise<void>) {}

  private async push(b: Buffer): Promise<void> {
    this.written += b.length;
    await this.sink(b);
  }

  async entry(e: TarWriteEntry): Promise<void> {
    if (this.dataLeft) throw new Error(`tar writer: ${this.dataLeft} bytes of the previous entry's data are missing`);
    const size = e.type === 'file' ? (e.size ?? 0) : 0;
    const linkname = e.linkname ?? '';
    const name = e.type === 'dir' && !e.name.endsWith('/') ? `${e.name}/` : e.name;
    const pax: string[] = [];
    if (Buffer.byteLength(name) > 100) pax.push(paxRecord('path', name));
    if (Buffer.byteLength(linkname) > 100) pax.push(paxRecord('linkpath', linkname));
    if (!fits(size, 12)) pax.push(paxRecord('size', String(size)));
    if (!fits(e.uid, 8)) pax.push(paxRecord('uid', String(e.uid)));
    if (!fits(e.gid, 8)) pax.push(paxRecord('gid', String(e.gid)));
    if (pax.length) {
      const body = Buffer.from(pax.join(''), 'utf8');
      await this.push(header({ name: 'PaxHeader', type: 'x', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: e.mtime, linkname: '' }));
      await this.push(Buffer.concat([body, Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK)]));
    }
    // a name that needed PAX still gets its first bytes in the header, as GNU tar does
    const short = (s: string) => Buffer.from(s, 'utf8').subarray(0, 100).toString('utf8').replace(/\uFFFD$/, '');
    await this.push(header({ name: short(name), type: TYPEFLAG[e.type], mode: e.mode, uid: e.uid, gid: e.gid, size, mtime: e.mtime, linkname: short(linkname) }));
    this.dataLeft = size;
    this.padTo = (BLOCK - (size % BLOCK)) % BLOCK;
  }

  /** The current file entry's data, in pieces; exactly its size in all. */
  async data(b: Buffer): Promise<void> {
    if (b.length > this.dataLeft) throw new Error('tar writer: more data than the entry\'s size');
    this.dataLeft -= b.length;
    await this.push(b);
    if (this.dataLeft === 0 && this.padTo) {
      await this.push(Buffer.alloc(this.padTo));
      this.padTo = 0;
    }
  }

  /** The two zero blocks that end an archive. */
  async end(): Promise<void> {
    if (this.dataLeft) throw new Error(`tar writer: ${this.dataLeft} bytes of the last entry's data are missing`);
    await this.push(Buffer.alloc(2 * BLOCK));
  }
}

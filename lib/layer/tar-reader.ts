/**
 * sysctr's tar reader: a push parser that is fed the archive's bytes in pieces of any size and
 * calls back once per entry, handing the entry's data on as slices of those pieces (nothing is
 * buffered but headers, so memory does not grow with the archive). It reads v7, ustar, old GNU,
 * GNU and PAX archives, GNU and PAX sparse files (given back whole, holes as zeros), and accepts
 * what real builders write that stricter readers refuse; what it accepts and what it refuses, and
 * why, is written down in docs/tar.md.
 */
import { BLOCK, checksumOk, cString, headerName, nonEmpty, padding, printable, decodeUtf8,
  isZeroBlock, paxInteger, parseNumeric, parsePax, paxTime, paxXattrs, TarFormatError, type PaxRecords } from './tar-fields.js';
import { checkSparseMap, Map10Text, paxSparse, readOldGnuEntries, SparseExpander, type HoleBudget, type SparseMap } from './tar-sparse.js';

export { TarFormatError, keptXattr } from './tar-fields.js';

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'dir' | 'char' | 'block' | 'fifo';

export interface TarEntryHeader {
  /** the name as the archive gives it (long-name and PAX records applied), not normalised */
  name: string;
  type: TarEntryType;
  /** permission bits, 0o7777 */
  mode: number;
  uid: number;
  gid: number;
  /** seconds */
  mtime: number;
  /** bytes of data the entry has (for a sparse file: its whole size); 0 for all but files */
  size: number;
  /** hardlink or symlink target ('' for other types: a regular file's link field means nothing) */
  linkname: string;
  /** kept extended attributes, name -> base64 */
  xattrs?: Record<string, string>;
  /** byte offset of the entry's header in the archive */
  offset: number;
}

/** Receives one entry's data; every slice is only valid during the call. */
export interface EntrySink {
  data(b: Buffer): void;
  end(): void;
}

/** Extended headers and long names larger than this are not metadata anyone writes. */
const MAX_META = 1 << 20;
/** Zeros of sparse holes handed on per write() or pump() call: a few of the object writer's slabs. */
const HOLE_BUDGET = 4 << 20;

type State = 'header' | 'meta' | 'data' | 'skip' | 'ext' | 'map10' | 'tail' | 'done';

export class TarReader {
  private state: State = 'header';
  /** bytes consumed so far */
  private pos = 0;
  private hdr = Buffer.alloc(BLOCK);
  private hdrFill = 0;
  /** a first end-of-archive block was seen */
  private zeroSeen = false;

  // metadata for the next entry
  private pax?: PaxRecords;
  private sparse00: number[] = [];
  private longName?: Buffer;
  private longLink?: Buffer;

  /** the extended header or long name being collected */
  private meta?: { kind: 'x' | 'g' | 'L' | 'K'; buf: Buffer; fill: number; at: number };
  private skipLeft = 0;
  private dataLeft = 0;
  private current?: { header: TarEntryHeader; sink?: EntrySink; expander?: SparseExpander };
  /** an entry whose data (or sparse extension blocks, or 1.0 map) is about to start */
  private pending?: { header: TarEntryHeader; stored: number; map?: SparseMap; ext?: boolean; map10?: Map10Text };

  private budget: HoleBudget = { left: 0 };
  /** the rest of a piece not taken yet: a sparse hole had to wait */
  private stash?: Buffer;

  constructor(private readonly onEntry: (h: TarEntryHeader) => EntrySink | undefined) {}

  /**
   * Feeds bytes; throws TarFormatError (or the sink's errors). When a sparse file's holes are
   * larger than one turn's worth of zeros, the reader stops early: call pump() (after waiting for
   * the consumer) until it returns false before writing more.
   */
  write(chunk: Buffer): void {
    if (this.stash || this.state === 'tail') throw new Error('TarReader.write() while paused: pump() first');
    this.budget.left = HOLE_BUDGET;
    this.feed(chunk);
  }

  /** Goes on after a pause; returns true while there is more to do (pump again). */
  pump(): boolean {
    this.budget.left = HOLE_BUDGET;
    if (this.state === 'tail') {
      if (!this.current!.expander!.end()) return true;
      this.finishData();
    }
    const rest = this.stash;
    this.stash = undefined;
    if (rest) this.feed(rest);
    return this.stash !== undefined || this.state === 'tail';
  }

  private feed(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      switch (this.state) {
        case 'data': {
          const take = Math.min(this.dataLeft, n - i);
          const piece = take === n && i === 0 ? chunk : chunk.subarray(i, i + take);
          const c = this.current!;
          let used = take;
          if (c.expander) used = c.expander.data(piece);
          else c.sink?.data(piece);
          i += used;
          this.pos += used;
          this.dataLeft -= used;
          if (used < take) {
            this.stash = chunk.subarray(i);
            return;
          }
          if (this.dataLeft === 0) this.finishData();
          break;
        }
        case 'skip': {
          const take = Math.min(this.skipLeft, n - i);
          i += take;
          this.pos += take;
          this.skipLeft -= take;
          if (this.skipLeft === 0) this.state = 'header';
          break;
        }
        case 'meta': {
          const m = this.meta!;
          const take = Math.min(m.buf.length - m.fill, n - i);
          chunk.copy(m.buf, m.fill, i, i + take);
          m.fill += take;
          i += take;
          this.pos += take;
          if (m.fill === m.buf.length) this.endMeta();
          break;
        }
        case 'tail':
          // a sparse file's trailing hole waits for pump(); the rest of the piece with it
          this.stash = chunk.subarray(i);
          return;
        case 'done':
          // after the end-of-archive blocks: what follows is not read, as by GNU tar and Go
          this.pos += n - i;
          i = n;
          break;
        default: {
          // 'header', 'ext', 'map10': whole blocks
          let block: Buffer;
          if (this.hdrFill === 0 && n - i >= BLOCK) {
            block = chunk.subarray(i, i + BLOCK);
            i += BLOCK;
            this.pos += BLOCK;
          } else {
            const take = Math.min(BLOCK - this.hdrFill, n - i);
            chunk.copy(this.hdr, this.hdrFill, i, i + take);
            this.hdrFill += take;
            i += take;
            this.pos += take;
            if (this.hdrFill < BLOCK) break;
            this.hdrFill = 0;
            block = this.hdr;
          }
          const at = this.pos - BLOCK;
          if (this.state === 'header') this.onHeader(block, at);
          else if (this.state === 'ext') this.onExtBlock(block);
          else this.onMapBlock(block);
        }
      }
    }
  }

  /** The archive's bytes have all been fed: refuses an archive cut inside an entry or a header. */
  end(): void {
    if (this.stash || this.state === 'tail') throw new Error('TarReader.end() while paused: pump() first');
    const pending = this.pending?.header ?? this.current?.header;
    switch (this.state) {
      case 'header':
        if (this.hdrFill > 0 && !(this.zeroSeen && isZeroBlock(Buffer.concat([this.hdr.subarray(0, this.hdrFill), Buffer.alloc(BLOCK - this.hdrFill)])))) {
          throw new TarFormatError(`archive ends inside a header: ${this.hdrFill} of its ${BLOCK} bytes at offset ${this.pos - this.hdrFill}`);
        }
        return;
      case 'skip':
      case 'done':
        // a missing last padding (or end-of-archive blocks): the digests vouch for the bytes
        return;
      case 'data':
        throw new TarFormatError(`entry "${pending!.name}" (header at offset ${pending!.offset}) is cut short: the archive ends ${this.dataLeft} bytes before the end of its data`);
      case 'meta':
        throw new TarFormatError(`archive ends inside the extended header at offset ${this.meta!.at}`);
      default:
        throw new TarFormatError(`entry "${pending!.name}" (header at offset ${pending!.offset}) is cut short inside its sparse map`);
    }
  }

  private onHeader(h: Buffer, at: number): void {
    if (isZeroBlock(h)) {
      if (this.zeroSeen) this.state = 'done';
      this.zeroSeen = true;
      return;
    }
    if (this.zeroSeen) throw new TarFormatError(`a single zero block followed by a header at offset ${at}: the archive is corrupt`);
    if (!checksumOk(h)) {
      const name = printable(cString(h, 0, 100));
      throw new TarFormatError(`bad header checksum at offset ${at}${name ? ` (name field "${name}")` : ''}: not a tar archive, or a corrupt one`);
    }
    const type = h[156];
    const where = () => `header at offset ${at} (name field "${printable(cString(h, 0, 100))}")`;
    const size = parseNumeric(h, 124, 12);
    if (Number.isNaN(size)) throw new TarFormatError(`${where()}: unreadable size field`);
    if (size < 0) throw new TarFormatError(`${where()}: negative size ${size === -Infinity ? 'beyond -2^53' : size}`);
    if (size === Infinity) throw new TarFormatError(`${where()}: absurd size (beyond 2^53 bytes)`);
    // 'x' PAX, 'g' PAX global, 'L' GNU long name, 'K' GNU long link name
    if (type === 0x78 || type === 0x67 || type === 0x4c || type === 0x4b) {
      if (size > MAX_META) throw new TarFormatError(`${where()}: extended header of ${size} bytes (more than ${MAX_META})`);
      this.meta = { kind: String.fromCharCode(type) as 'x', buf: Buffer.allocUnsafe(size), fill: 0, at };
      this.skipLeft = padding(size);
      if (size === 0) this.endMeta();
      else this.state = 'meta';
      return;
    }
    this.onEntryHeader(h, at, type, size);
  }

  private endMeta(): void {
    const m = this.meta!;
    this.meta = undefined;
    const where = `extended header at offset ${m.at}`;
    if (m.kind === 'x') {
      const { records, sparse00 } = parsePax(m.buf, where);
      // consecutive extended headers add up, later records winning
      if (this.pax) for (const [k, v] of records) this.pax.set(k, v);
      else this.pax = records;
      if (sparse00.length) this.sparse00 = sparse00;
    } else if (m.kind === 'g') {
      // Global records are checked and then not applied, as by Go's reader and umoci: what
      // writers put there (a comment, a commit id) describes the archive, not its files.
      parsePax(m.buf, where);
    } else if (m.kind === 'L') this.longName = cString(m.buf, 0, m.buf.length);
    else this.longLink = cString(m.buf, 0, m.buf.length);
    this.afterData();
  }

  private onEntryHeader(h: Buffer, at: number, type: number, headerSize: number): void {
    const pax = this.pax;
    // an empty record or long name sets nothing (POSIX: an empty value unsets the record)
    const rec = (key: string) => {
      const v = pax?.get(key);
      return v?.length ? v : undefined;
    };
    const rawName = nonEmpty(this.longName) ?? rec('path') ?? headerName(h);
    const where0 = `entry at offset ${at}`;
    let name = decodeUtf8(rawName, `${where0}: name`);
    const where = () => `entry "${name}" (header at offset ${at})`;
    if (name.includes('\0')) throw new TarFormatError(`${where()}: name contains a NUL byte`);
    const num = (field: string, from: number, len: number, key?: string) => {
      const v = key ? rec(key) : undefined;
      if (v) return key === 'mtime' ? paxTime(v, where()) : paxInteger(v, field, where());
      const n = parseNumeric(h, from, len);
      if (!Number.isFinite(n)) throw new TarFormatError(`${where()}: unreadable ${field} field`);
      return n;
    };
    const mode = num('mode', 100, 8) & 0o7777;
    const uid = num('uid', 108, 8, 'uid');
    const gid = num('gid', 116, 8, 'gid');
    for (const [what, id] of [['uid', uid], ['gid', gid]] as const) {
      if (id < 0 || id > 0xfffffffe) throw new TarFormatError(`${where()}: ${what} ${id} is not a valid ${what}`);
    }
    const mtime = num('mtime', 136, 12, 'mtime');
    const sizeRec = rec('size');
    let stored = sizeRec ? paxInteger(sizeRec, 'size', where()) : headerSize;
    const header: TarEntryHeader = { name, type: 'file', mode, uid, gid, mtime, size: stored, linkname: '', offset: at };
    const xattrs = pax && paxXattrs(pax);
    if (xattrs) header.xattrs = xattrs;
    let map: SparseMap | undefined;
    let ext = false;
    let map10 = false;
    switch (type) {
      case 0x30: // '0'
      case 0x37: // '7' contiguous: a regular file
        break;
      case 0: // '\0': v7's regular file, or its directory when the name ends in "/"
        if (name.endsWith('/')) header.type = 'dir';
        break;
      case 0x31: // '1'
      case 0x32: // '2'
        header.type = type === 0x31 ? 'hardlink' : 'symlink';
        header.linkname = decodeUtf8(nonEmpty(this.longLink) ?? rec('linkpath') ?? cString(h, 157, 100), `${where()}: link target`);
        if (header.linkname.includes('\0')) throw new TarFormatError(`${where()}: link target contains a NUL byte`);
        break;
      case 0x33: // '3'
      case 0x34: // '4'
      case 0x35: // '5'
      case 0x36: // '6'
        header.type = (['char', 'block', 'dir', 'fifo'] as const)[type - 0x33];
        break;
      case 0x44: // 'D' GNU dumpdir: a directory whose data lists its contents, not needed
        header.type = 'dir';
        break;
      case 0x53: {
        // 'S' old GNU sparse: four map entries in the header, more in extension blocks
        map = [];
        readOldGnuEntries(h, 386, 4, map, where());
        ext = h[482] !== 0;
        const real = parseNumeric(h, 483, 12);
        if (!Number.isFinite(real) || real < 0) throw new TarFormatError(`${where()}: unreadable sparse file size`);
        header.size = real;
        break;
      }
      case 0x56: // 'V' volume label: names no file
        this.clearMeta();
        this.startSkip(stored);
        return;
      default: {
        const c = String.fromCharCode(type);
        throw new TarFormatError(`${where()}: tar entry type '${/[\x21-\x7e]/.test(c) ? c : `\\x${type.toString(16)}`}' is not a file, link, directory, device or fifo; sysctr cannot make it`);
      }
    }
    if (header.type !== 'file') {
      // the size of links, devices, fifos and directories is ignored: no data follows them
      header.size = 0;
      stored = type === 0x44 ? stored : 0;
    } else if (pax && type !== 0x53) {
      const sparse = paxSparse(pax, this.sparse00, where());
      if (sparse) {
        if (sparse.name) name = header.name = decodeUtf8(sparse.name, `${where()}: GNU.sparse.name`);
        if (sparse.size !== undefined) header.size = sparse.size;
        map = sparse.map;
        map10 = sparse.map10;
      }
    }
    this.clearMeta();
    const p: NonNullable<TarReader['pending']> = (this.pending = { header, stored, map, ext });
    if (ext) this.state = 'ext';
    else if (map10) {
      if (stored === 0) throw new TarFormatError(`${where()}: sparse file without its map`);
      p.map10 = new Map10Text();
      this.state = 'map10';
    } else this.startData();
  }

  private clearMeta(): void {
    this.pax = undefined;
    this.sparse00 = [];
    this.longName = undefined;
    this.longLink = undefined;
  }

  private onExtBlock(b: Buffer): void {
    const p = this.pending!;
    readOldGnuEntries(b, 0, 21, p.map!, `entry "${p.header.name}" (header at offset ${p.header.offset})`);
    if (b[504] === 0) this.startData();
  }

  private onMapBlock(b: Buffer): void {
    const p = this.pending!;
    const got = p.map10!.add(b, p.stored, `entry "${p.header.name}" (header at offset ${p.header.offset})`);
    if (!got) return;
    p.map = got.map;
    p.stored -= got.bytes;
    p.map10 = undefined;
    this.startData();
  }


  private startData(): void {
    const p = this.pending!;
    this.pending = undefined;
    const { header } = p;
    const where = `entry "${header.name}" (header at offset ${header.offset})`;
    if (p.map) checkSparseMap(p.map, header.size, p.stored, where);
    else if (header.type === 'file') header.size = p.stored;
    const sink = this.onEntry(header);
    const c: NonNullable<TarReader['current']> = { header, sink };
    if (p.map && sink) c.expander = new SparseExpander(p.map, header.size, this.budget, (b) => sink.data(b));
    this.current = c;
    this.dataLeft = header.type === 'file' || header.type === 'dir' ? p.stored : 0;
    this.skipLeft = padding(this.dataLeft);
    if (this.dataLeft === 0) this.finishData();
    else this.state = 'data';
  }

  private finishData(): void {
    const c = this.current!;
    // a trailing hole longer than this turn's budget: pump() finishes it
    if (c.expander && !c.expander.end()) {
      this.state = 'tail';
      return;
    }
    this.current = undefined;
    c.sink?.end();
    this.afterData();
  }

  private startSkip(n: number): void {
    this.skipLeft = n + padding(n);
    this.afterData();
  }

  private afterData(): void {
    this.state = this.skipLeft > 0 ? 'skip' : 'header';
  }
}

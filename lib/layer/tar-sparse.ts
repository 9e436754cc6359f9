/**
 * GNU sparse files for the tar reader: the maps of the old GNU `S` header (and its extension
 * blocks), of PAX GNU.sparse 0.0/0.1 (records) and 1.0 (text at the start of the data), checked,
 * and an expander that turns the packed data back into the whole file, holes as zeros.
 */
import { BLOCK, parseNumeric, paxInteger, TarFormatError, type PaxRecords } from './tar-fields.js';

/** Data segments of a sparse file: [offset, length] pairs, flattened. */
export type SparseMap = number[];

/** Enough for any real file (GNU tar writes one segment per run of data); a map beyond is refused. */
export const MAX_SPARSE_SEGMENTS = 1 << 17;
/** Bytes of 1.0 map text read at most before its entries are all there. */
export const MAX_MAP_TEXT = 4 << 20;

/** Appends the up-to-`count` 24-byte entries at `from` (an empty offset ends the list). */
export function readOldGnuEntries(b: Buffer, from: number, count: number, map: SparseMap, where: string): void {
  for (let i = 0; i < count; i++) {
    const at = from + i * 24;
    if (b[at] === 0) break;
    const off = parseNumeric(b, at, 12);
    const len = parseNumeric(b, at + 12, 12);
    if (!Number.isFinite(off) || !Number.isFinite(len)) throw new TarFormatError(`${where}: unreadable sparse map entry`);
    if (map.length >= 2 * MAX_SPARSE_SEGMENTS) throw new TarFormatError(`${where}: sparse map has more than ${MAX_SPARSE_SEGMENTS} segments`);
    map.push(off, len);
  }
}

/** GNU.sparse.map (0.1; 0.0's pairs arrive already as numbers). */
export function parseMapRecord(s: string, where: string): SparseMap {
  if (s === '') return [];
  const parts = s.split(',');
  if (parts.length % 2 !== 0) throw new TarFormatError(`${where}: GNU.sparse.map has an odd number of values`);
  if (parts.length > 2 * MAX_SPARSE_SEGMENTS) throw new TarFormatError(`${where}: sparse map has more than ${MAX_SPARSE_SEGMENTS} segments`);
  return parts.map((p) => {
    if (!/^[0-9]{1,16}$/.test(p) || Number(p) > Number.MAX_SAFE_INTEGER) throw new TarFormatError(`${where}: GNU.sparse.map value ${JSON.stringify(p.slice(0, 30))} is not a number`);
    return Number(p);
  });
}

/** The first line of a 1.0 map: its number of segments, bounded. */
export function sparseMapCount(text: Buffer, where: string): number {
  const nl = text.indexOf(0x0a);
  const s = text.toString('latin1', 0, nl);
  if (!/^[0-9]{1,16}$/.test(s)) throw new TarFormatError(`${where}: sparse map line ${JSON.stringify(s.slice(0, 30))} is not a number`);
  if (Number(s) > MAX_SPARSE_SEGMENTS) throw new TarFormatError(`${where}: sparse map has ${s} segments, more than ${MAX_SPARSE_SEGMENTS}`);
  return Number(s);
}

/**
 * The 1.0 map at the start of the data, all of its lines there: decimal lines, the number of
 * segments then offset and length of each, padded with NULs to a block boundary. Returns the map
 * and the bytes (whole blocks) it took.
 */
export function parseMap10(text: Buffer, where: string): { map: SparseMap; bytes: number } {
  const count = sparseMapCount(text, where);
  const nums: number[] = [];
  let pos = text.indexOf(0x0a) + 1;
  while (nums.length < 2 * count) {
    const nl = text.indexOf(0x0a, pos);
    const s = text.toString('latin1', pos, nl);
    if (!/^[0-9]{1,16}$/.test(s) || Number(s) > Number.MAX_SAFE_INTEGER) throw new TarFormatError(`${where}: sparse map line ${JSON.stringify(s.slice(0, 30))} is not a number`);
    nums.push(Number(s));
    pos = nl + 1;
  }
  return { map: nums, bytes: Math.ceil(pos / BLOCK) * BLOCK };
}

/** The 1.0 map text, gathered a block at a time until all of its lines are there. */
export class Map10Text {
  private blocks: Buffer[] = [];
  private bytes = 0;
  private lines = 0;
  private want = -1;

  /** Returns the map once complete, with the bytes (whole blocks) it took of the entry's `stored` data. */
  add(b: Buffer, stored: number, where: string): { map: SparseMap; bytes: number } | undefined {
    this.blocks.push(Buffer.from(b));
    this.bytes += BLOCK;
    if (this.bytes > stored) throw new TarFormatError(`${where}: sparse map runs past the entry's data`);
    // parsed once enough lines are there: the first gives the count, two more per segment
    for (let i = 0; i < BLOCK; i++) if (b[i] === 0x0a) this.lines++;
    if (this.want < 0 && this.lines > 0) this.want = 1 + 2 * sparseMapCount(Buffer.concat(this.blocks), where);
    if (this.want < 0 || this.lines < this.want) {
      if (this.bytes >= MAX_MAP_TEXT) throw new TarFormatError(`${where}: sparse map text larger than ${MAX_MAP_TEXT} bytes`);
      return undefined;
    }
    return parseMap10(Buffer.concat(this.blocks), where);
  }
}

/**
 * Refuses maps whose segments overlap, go backwards or end past the file's size, and maps whose
 * segments do not add up to the data stored. Returns the packed data size.
 */
export function checkSparseMap(map: SparseMap, realSize: number, packed: number, where: string): void {
  let end = 0;
  let total = 0;
  for (let i = 0; i < map.length; i += 2) {
    const off = map[i];
    const len = map[i + 1];
    if (off < 0 || len < 0 || off < end || off + len > realSize) {
      throw new TarFormatError(`${where}: sparse map segment ${i / 2} (offset ${off}, ${len} bytes) overlaps another or lies outside the file's ${realSize} bytes`);
    }
    end = off + len;
    total += len;
  }
  if (total !== packed) throw new TarFormatError(`${where}: sparse map names ${total} bytes of data but the entry stores ${packed}`);
}

const ZEROS = Buffer.alloc(256 * 1024);

/** Bytes of holes a sparse file may hand on per turn: the reader's caller waits for its writer in between. */
export interface HoleBudget {
  left: number;
}

/**
 * Turns packed data pieces into the whole file: zeros for the holes, then each segment's data.
 * Holes are handed on only while the budget lasts, so a huge hole does not flood the consumer:
 * `data` then returns how much of its piece it took, and `end` false.
 */
export class SparseExpander {
  private seg = 0;
  /** bytes of the current segment already passed on */
  private inSeg = 0;
  /** logical bytes emitted */
  private pos = 0;

  constructor(
    private readonly map: SparseMap,
    private readonly realSize: number,
    private readonly budget: HoleBudget,
    private readonly emit: (b: Buffer) => void,
  ) {
    this.skipEmpty();
  }

  /** false when the budget ran out first */
  private zerosTo(target: number): boolean {
    while (this.pos < target) {
      if (this.budget.left <= 0) return false;
      const n = Math.min(ZEROS.length, target - this.pos, this.budget.left);
      this.emit(ZEROS.subarray(0, n));
      this.pos += n;
      this.budget.left -= n;
    }
    return true;
  }

  private skipEmpty(): void {
    while (this.seg < this.map.length && this.map[this.seg + 1] === 0) this.seg += 2;
  }

  /** Returns the bytes of `b` taken (fewer than its length when a hole must wait). */
  data(b: Buffer): number {
    let i = 0;
    while (i < b.length) {
      // checkSparseMap made sure the segments hold exactly the packed bytes
      if (!this.zerosTo(this.map[this.seg])) return i;
      const n = Math.min(this.map[this.seg + 1] - this.inSeg, b.length - i);
      this.emit(i === 0 && n === b.length ? b : b.subarray(i, i + n));
      i += n;
      this.pos += n;
      this.inSeg += n;
      if (this.inSeg === this.map[this.seg + 1]) {
        this.seg += 2;
        this.inSeg = 0;
        this.skipEmpty();
      }
    }
    return i;
  }

  /** After the last packed byte: the trailing hole; false when it must wait. */
  end(): boolean {
    return this.zerosTo(this.realSize);
  }
}

/** The GNU sparse records of a PAX header: 0.0 and 0.1 (map in records) or 1.0 (map in the data). */
export function paxSparse(pax: PaxRecords, sparse00: number[], where: string): { name?: Buffer; size?: number; map?: SparseMap; map10: boolean } | undefined {
  const major = pax.get('GNU.sparse.major')?.toString('latin1');
  const minor = pax.get('GNU.sparse.minor')?.toString('latin1');
  const mapRec = pax.get('GNU.sparse.map');
  let map10: boolean;
  if (major === '1' && minor === '0') map10 = true;
  else if (major === '0' && (minor === '0' || minor === '1')) map10 = false;
  else if (major !== undefined || minor !== undefined) {
    throw new TarFormatError(`${where}: GNU sparse format ${major ?? '?'}.${minor ?? '?'} is not one sysctr knows (0.0, 0.1, 1.0)`);
  } else if (mapRec || sparse00.length || pax.has('GNU.sparse.numblocks')) map10 = false;
  else return undefined;
  const sizeRec = pax.get('GNU.sparse.size') ?? pax.get('GNU.sparse.realsize');
  const size = sizeRec ? paxInteger(sizeRec, 'GNU.sparse.size', where) : undefined;
  const out = { name: pax.get('GNU.sparse.name'), size, map10, map: undefined as SparseMap | undefined };
  if (!map10) {
    out.map = sparse00.length ? sparse00 : parseMapRecord(mapRec?.toString('latin1') ?? '', where);
    if (out.map.length % 2) throw new TarFormatError(`${where}: GNU.sparse.offset without its GNU.sparse.numbytes`);
    const blocks = pax.get('GNU.sparse.numblocks');
    if (blocks && paxInteger(blocks, 'GNU.sparse.numblocks', where) * 2 !== out.map.length) {
      throw new TarFormatError(`${where}: GNU.sparse.numblocks does not match the sparse map`);
    }
  }
  return out;
}

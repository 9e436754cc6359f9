/**
 * The tar reader (lib/layer/tar-reader.ts) on crafted bytes: what real writers do that strict
 * readers refuse, accepted; broken or hostile archives refused with an error naming the entry or
 * the offset; the same result whatever pieces the bytes arrive in.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { TarReader, type TarEntryHeader } from '../../lib/layer/tar-reader.js';
import { normalizeEntryPath } from '../../lib/layer/safepath.js';
import { requirePrereqs } from '../helpers/prereq.js';

interface Got {
  h: TarEntryHeader;
  data: Buffer;
}

/** Reads an archive fed in pieces of `piece` bytes (all at once by default). */
function read(bytes: Buffer, piece = bytes.length || 1): Got[] {
  const out: Got[] = [];
  const r = new TarReader((h) => {
    const parts: Buffer[] = [];
    return { data: (b) => parts.push(Buffer.from(b)), end: () => out.push({ h, data: Buffer.concat(parts) }) };
  });
  for (let i = 0; i < bytes.length; i += piece) {
    r.write(bytes.subarray(i, i + piece));
    while (r.pump());
  }
  r.end();
  return out;
}

interface H {
  name: string;
  type?: string;
  size?: number | Buffer;
  mode?: number;
  uid?: number | Buffer;
  link?: string;
  magic?: 'ustar' | 'gnu' | 'v7';
  prefix?: string;
  /** extra bytes written over the header at an offset, before the checksum */
  at?: Array<[number, Buffer]>;
  sum?: 'unsigned' | 'signed' | 'bad';
}

const octal = (n: number, len: number) => Buffer.from(n.toString(8).padStart(len - 1, '0') + '\0');

function header(o: H): Buffer {
  const b = Buffer.alloc(512);
  b.write(o.name, 0, 100, 'utf8');
  octal(o.mode ?? 0o644, 8).copy(b, 100);
  (Buffer.isBuffer(o.uid) ? o.uid : octal(o.uid ?? 0, 8)).copy(b, 108);
  octal(0, 8).copy(b, 116);
  (Buffer.isBuffer(o.size) ? o.size : octal(o.size ?? 0, 12)).copy(b, 124);
  octal(1700000000, 12).copy(b, 136);
  b.write(o.type ?? '0', 156, 'latin1');
  b.write(o.link ?? '', 157, 100, 'utf8');
  if ((o.magic ?? 'ustar') === 'ustar') b.write('ustar\x0000', 257, 'latin1');
  else if (o.magic === 'gnu') b.write('ustar  \0', 257, 'latin1');
  if (o.prefix) b.write(o.prefix, 345, 155, 'utf8');
  for (const [off, v] of o.at ?? []) v.copy(b, off);
  b.fill(0x20, 148, 156);
  let u = 0;
  let s = 0;
  for (const x of b) {
    u += x;
    s += x < 128 ? x : x - 256;
  }
  const sum = o.sum === 'signed' ? s : o.sum === 'bad' ? u + 1 : u;
  Buffer.from(sum.toString(8).padStart(6, '0') + '\0 ').copy(b, 148);
  return b;
}

const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
const file = (name: string, content: string | Buffer, o: Partial<H> = {}) => {
  const c = Buffer.from(content);
  return Buffer.concat([header({ name, size: c.length, ...o }), pad(c)]);
};
const END = Buffer.alloc(1024);

function paxRecord(key: string, value: string | Buffer): Buffer {
  const v = Buffer.from(value);
  const rest = Buffer.byteLength(` ${key}=`) + v.length + 1;
  let len = rest + 1;
  while (String(len).length + rest !== len) len = String(len).length + rest;
  return Buffer.concat([Buffer.from(`${len} ${key}=`), v, Buffer.from('\n')]);
}
const pax = (records: Array<[string, string | Buffer]>, type = 'x') => {
  const body = Buffer.concat(records.map(([k, v]) => paxRecord(k, v)));
  return Buffer.concat([header({ name: 'PaxHeader', type, size: body.length }), pad(body)]);
};
/** GNU base-256: the marker bit, then the value big-endian */
const b256 = (n: bigint, len: number) => {
  const b = Buffer.alloc(len);
  let v = n < 0n ? (1n << BigInt(len * 8)) + n : n;
  for (let i = len - 1; i >= 0; i--) {
    b[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  b[0] |= 0x80;
  return b;
};

t.test('a regular file whose link field is filled (containers/storage whiteouts) is a plain file', async (t) => {
  const got = read(Buffer.concat([file('.wh.a', ''), file('.wh.b', '', { link: '.wh.a' }), END]));
  t.same(got.map((g) => [g.h.name, g.h.type, g.h.linkname]), [['.wh.a', 'file', ''], ['.wh.b', 'file', '']]);
});

t.test('end of data at an entry boundary, and a missing last padding, are accepted', async (t) => {
  t.same(read(file('a', 'hello')).map((g) => g.data.toString()), ['hello'], 'no end-of-archive blocks');
  t.same(read(file('a', 'hello').subarray(0, 512 + 5)).map((g) => g.data.toString()), ['hello'], 'no padding either');
  t.same(read(Buffer.concat([file('a', 'x'), Buffer.alloc(512)])).length, 1, 'one end block only');
  t.same(read(Buffer.concat([file('a', 'x'), END, Buffer.from('trailing garbage')])).length, 1, 'what follows the end blocks is not read');
});

t.test('broken archives are refused, naming the entry or the offset', async (t) => {
  const two = Buffer.concat([file('a', 'x'), file('b', 'hello world')]);
  t.throws(() => read(two.subarray(0, 1024 + 256)), /archive ends inside a header: 256 of its 512 bytes at offset 1024/, 'a header cut in half');
  t.throws(() => read(two.subarray(0, 1024 + 512 + 4)), /entry "b" \(header at offset 1024\) is cut short: the archive ends 7 bytes before the end of its data/, 'data shorter than its header says');
  t.throws(() => read(Buffer.concat([file('a', 'x'), file('b', 'y', { sum: 'bad' })])), /bad header checksum at offset 1024 \(name field "b"\)/, 'a bad checksum');
  t.throws(() => read(Buffer.from('this is not a tar archive at all'.repeat(20))), /bad header checksum at offset 0/, 'not a tar');
  t.throws(() => read(Buffer.concat([file('a', 'x'), Buffer.alloc(512), file('b', 'y')])), /single zero block followed by a header at offset 1536/, 'a lone zero block inside');
  t.throws(() => read(header({ name: 'neg', size: b256(-5n, 12) })), /header at offset 0 \(name field "neg"\): negative size -5/, 'a negative size');
  t.throws(() => read(header({ name: 'huge', size: b256(1n << 80n, 12) })), /absurd size/, 'an absurd size');
  t.throws(() => read(header({ name: 'bad', size: Buffer.from('12x45\0') })), /unreadable size field/, 'a size that is no number');
  t.throws(() => read(Buffer.concat([pax([['size', '-3']]), file('p', 'x')])), /entry "p" .*PAX size="-3" is not a valid size/, 'a negative PAX size');
  t.throws(() => read(pax([['path', 'x'.repeat(200)]]).subarray(0, 512 + 50)), /archive ends inside the extended header at offset 0/, 'a PAX header cut short');
  t.throws(() => read(Buffer.concat([header({ name: 'PaxHeader', type: 'x', size: 8 }), pad(Buffer.from('99 a=b\n\n')), file('p', 'x')])), /malformed PAX record/, 'a malformed PAX record');
  t.throws(() => read(header({ name: 'q', type: 'Q' })), /entry "q" .*tar entry type 'Q' is not a file, link, directory, device or fifo; sysctr cannot make it/, 'an unknown type');
  t.throws(() => read(file(Buffer.from([0x66, 0xff, 0xfe]).toString('latin1'), 'x', { at: [[0, Buffer.from([0x66, 0xff, 0xfe, 0])]] })), /name is not valid UTF-8 \(66fffe\)/, 'a name that is not UTF-8');
});

t.test('checksums summed as signed bytes are accepted, as are unsigned ones', async (t) => {
  t.same(read(Buffer.concat([file('é-signed', 'x', { sum: 'signed' }), file('é-unsigned', 'y'), END])).map((g) => g.h.name), ['é-signed', 'é-unsigned']);
});

t.test('formats: ustar prefix, v7 directories, GNU base-256, long names and links', async (t) => {
  const longName = `${'n'.repeat(150)}/file`;
  const longLink = `../${'l'.repeat(200)}`;
  const gnuLong = (type: string, s: string) => Buffer.concat([header({ name: '././@LongLink', type, size: Buffer.byteLength(s) + 1, magic: 'gnu' }), pad(Buffer.from(s + '\0'))]);
  const got = read(
    Buffer.concat([
      file('name-part', 'p', { prefix: 'the/prefix' }),
      file('gnu-ignores-prefix', 'g', { magic: 'gnu', prefix: 'atime-bytes' }),
      header({ name: 'v7dir/', type: '\0', magic: 'v7' }),
      file('big-uid', 'u', { uid: b256(3000000n, 8), magic: 'gnu' }),
      gnuLong('L', longName),
      gnuLong('K', longLink),
      header({ name: 'short', type: '2', link: 'short-link', magic: 'gnu' }),
      file('contiguous', 'c', { type: '7' }),
      header({ name: 'hl', type: '1', link: 'name-part', size: 5 }), // a hardlink's size means no data
      header({ name: 'fifo', type: '6' }),
      END,
    ]),
  );
  t.same(
    got.map((g) => [g.h.name, g.h.type, g.h.linkname, g.data.toString()]),
    [
      ['the/prefix/name-part', 'file', '', 'p'],
      ['gnu-ignores-prefix', 'file', '', 'g'],
      ['v7dir/', 'dir', '', ''],
      ['big-uid', 'file', '', 'u'],
      [longName, 'symlink', longLink, ''],
      ['contiguous', 'file', '', 'c'],
      ['hl', 'hardlink', 'name-part', ''],
      ['fifo', 'fifo', '', ''],
    ],
  );
  t.equal(got[3].h.uid, 3000000, 'uid over 2,097,151 in base-256');
});

t.test('PAX records: path, linkpath, size, ids, times, xattrs; global headers not applied', async (t) => {
  const cap = Buffer.from([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0]);
  const got = read(
    Buffer.concat([
      pax([['comment', 'built by x'], ['uid', '99']], 'g'),
      pax([
        ['path', 'ünïcode/päth'],
        ['size', '3'],
        ['uid', '4000000000'],
        ['gid', '12'],
        ['mtime', '1700000000.75'],
        ['uname', 'ignored'],
        ['SCHILY.xattr.security.capability', cap],
        ['SCHILY.xattr.user.nul', Buffer.from([0, 1, 0])],
        ['SCHILY.xattr.security.selinux', 'system_u:object_r:bin_t:s0'],
        ['SCHILY.xattr.trusted.overlay.opaque', 'y'],
        ['LIBARCHIVE.xattr.user.with%20space', Buffer.from('value').toString('base64')],
      ]),
      header({ name: 'short-name', size: 99 }), // PAX size wins: 3 bytes follow
      pad(Buffer.from('abc')),
      pax([['linkpath', 'target/'.repeat(30)], ['mtime', '-1.5']]),
      header({ name: 'sym', type: '2', link: 'short' }),
      file('after-global', 'x'),
      END,
    ]),
  );
  t.same(got.map((g) => [g.h.name, g.h.size, g.h.uid, g.h.gid, g.h.mtime, g.data.toString()]), [
    ['ünïcode/päth', 3, 4000000000, 12, 1700000000, 'abc'],
    ['sym', 0, 0, 0, -2, ''],
    ['after-global', 1, 0, 0, 1700000000, 'x'],
  ]);
  t.same(got[0].h.xattrs, { 'security.capability': cap.toString('base64'), 'user.nul': 'AAEA', 'user.with space': Buffer.from('value').toString('base64') }, 'kept attributes only, binary values whole');
  t.equal(got[1].h.linkname, 'target/'.repeat(30));
  t.equal(got[2].h.uid, 0, 'the global uid is not applied');
});

t.test('sparse maps: expanded with zeros; overlapping, out-of-range or absurd maps refused', async (t) => {
  const sparse01 = (map: string, size: number, data: string) =>
    Buffer.concat([pax([['GNU.sparse.major', '0'], ['GNU.sparse.minor', '1'], ['GNU.sparse.name', 'real/name'], ['GNU.sparse.size', String(size)], ['GNU.sparse.map', map]]), file('GNUSparseFile.1/name', data)]);
  const [g] = read(Buffer.concat([sparse01('2,3,10,2', 16, 'abcde'), END]));
  t.same([g.h.name, g.h.size, g.data.toString('hex')], ['real/name', 16, '0000' + '616263' + '0000000000' + '6465' + '00000000']);
  t.throws(() => read(sparse01('0,4,2,2', 16, 'abcdef')), /sparse map segment 1 \(offset 2, 2 bytes\) overlaps another or lies outside the file's 16 bytes/, 'overlap');
  t.throws(() => read(sparse01('14,4', 16, 'abcd')), /segment 0 \(offset 14, 4 bytes\) overlaps another or lies outside/, 'past the end');
  t.throws(() => read(sparse01('0,4', 16, 'abcdef')), /sparse map names 4 bytes of data but the entry stores 6/, 'data the map does not name');
  const map10 = (text: string, data = '') => {
    const body = Buffer.concat([pad(Buffer.from(text)), Buffer.from(data)]);
    return Buffer.concat([pax([['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.name', 'f10'], ['GNU.sparse.realsize', '1000']]), header({ name: 'GNUSparseFile.0/f10', size: body.length }), pad(body)]);
  };
  const [g10] = read(Buffer.concat([map10('1\n998\n2\n', 'zz'), END]), 100);
  t.same([g10.h.name, g10.data.length, g10.data.subarray(996).toString('latin1')], ['f10', 1000, '\0\0zz'], '1.0 map, read in 100-byte pieces');
  t.throws(() => read(map10('999999999\n0\n1\n')), /sparse map has 999999999 segments, more than 131072/, 'an absurd map');
  t.throws(() => read(Buffer.concat([pax([['GNU.sparse.major', '2'], ['GNU.sparse.minor', '0']]), file('s', 'x')])), /GNU sparse format 2\.0 is not one sysctr knows/);
});

t.test('the same entries whatever pieces the bytes come in (GNU tar output: sparse, long names, PAX)', async (t) => {
  if (!requirePrereqs(t, ['tar', 'truncate'], false)) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-tarreader-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const src = path.join(dir, 'src');
  fs.mkdirSync(path.join(src, 'd'.repeat(90), 'e'.repeat(90)), { recursive: true });
  fs.writeFileSync(path.join(src, 'd'.repeat(90), 'e'.repeat(90), 'f'.repeat(90)), crypto.randomBytes(70000));
  execFileSync('truncate', ['-s', '3M', path.join(src, 'sparse')]);
  const fd = fs.openSync(path.join(src, 'sparse'), 'r+');
  fs.writeSync(fd, crypto.randomBytes(5000), 0, 5000, 1 << 20);
  fs.closeSync(fd);
  for (const args of [['--format=posix', '--sparse', '--sparse-version=1.0'], ['--format=gnu', '--sparse'], ['--format=posix', '--sparse', '--sparse-version=0.0']]) {
    const raw = execFileSync('tar', ['-C', src, '-cf', '-', ...args, '.'], { maxBuffer: 1 << 26 });
    const sum = (gs: Got[]) => gs.map((g) => `${g.h.name} ${g.h.type} ${g.h.size} ${crypto.createHash('sha256').update(g.data).digest('hex')}`);
    const whole = sum(read(raw));
    t.equal(whole.find((l) => l.startsWith('./sparse '))?.split(' ')[2], String(3 << 20), `${args.join(' ')}: the sparse file whole`);
    for (const piece of [1, 7, 511, 513, 4096]) t.same(sum(read(raw, piece)), whole, `${args.join(' ')}: in ${piece}-byte pieces`);
  }
});

t.test('entry names taken relative to the root; climbing out refused', async (t) => {
  const cases: Array<[string, string]> = [['/', ''], ['./', ''], ['.', ''], ['/etc/', 'etc'], ['/usr/bin/x', 'usr/bin/x'], ['./a//b/./c/', 'a/b/c'], ['a/../b', 'b'], ['...', '...']];
  for (const [name, want] of cases) t.equal(normalizeEntryPath(name), want, JSON.stringify(name));
  t.throws(() => normalizeEntryPath('a/../../etc/passwd'), /"a\/\.\.\/\.\.\/etc\/passwd" climbs out of the root with "\.\."/);
  t.throws(() => normalizeEntryPath('/../x'), /climbs out of the root/);
});

t.test('a huge hole is handed on a few MiB per turn, so the consumer can keep up (bounded memory)', async (t) => {
  const size = 300 << 20;
  const records = pax([['GNU.sparse.major', '0'], ['GNU.sparse.minor', '1'], ['GNU.sparse.name', 'hole'], ['GNU.sparse.size', String(size)], ['GNU.sparse.map', `${size - 2},2`]]);
  const archive = Buffer.concat([records, file('GNUSparseFile.0/hole', 'zz'), END]);
  let total = 0;
  let turn = 0;
  let maxTurn = 0;
  let tail = '';
  const r = new TarReader(() => ({ data: (b) => ((total += b.length), (turn += b.length), (tail = (tail + b.toString('latin1')).slice(-2))), end: () => undefined }));
  const turns: number[] = [];
  const done = () => {
    maxTurn = Math.max(maxTurn, turn);
    turns.push(turn);
    turn = 0;
  };
  r.write(archive);
  done();
  while (r.pump()) done();
  done();
  r.end();
  t.equal(total, size, 'the whole file');
  t.equal(tail, 'zz', 'its data at the end');
  t.ok(maxTurn <= 4 << 20, `at most 4 MiB per turn (got ${maxTurn})`);
  t.ok(turns.length >= 75, `in many turns (${turns.length})`);
});

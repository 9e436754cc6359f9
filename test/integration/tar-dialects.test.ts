/**
 * Layer tars written at test time by the real tools (GNU tar in each format, with -P and in each
 * sparse format; bsdtar; Python's tarfile), each wrapped as a one-layer OCI image, pulled and
 * checked out by sysctr, and compared with `umoci unpack` of the same image: paths, types, modes,
 * owners, link targets, contents, hardlinks, sparse files whole.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { sysctr } from '../helpers/cli.js';
import { requirePrereqs } from '../helpers/prereq.js';
import { buildImage, writeOciLayout } from '../helpers/images.js';

if (!requirePrereqs(t, ['umoci', 'tar', 'bsdtar', 'python3', 'truncate'])) process.exit(0);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-tardialects-'));
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
const root = path.join(work, 'root');
const run = (args: string[]) => sysctr(args, { env: { SYSCTR_ROOT: root } });
const sh = (cmd: string, args: string[], opts: { cwd?: string } = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts }).toString();
const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** A one-layer OCI image (gzip) around a tar's bytes, as any builder would lay it out. */
function layoutFromTar(dir: string, raw: Buffer): void {
  const blobs = path.join(dir, 'blobs', 'sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const put = (b: Buffer) => (fs.writeFileSync(path.join(blobs, sha(b)), b), { digest: `sha256:${sha(b)}`, size: b.length });
  const layer = put(zlib.gzipSync(raw));
  const config = put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [`sha256:${sha(raw)}`] } })));
  const manifest = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
      }),
    ),
  );
  fs.writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  fs.writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': '1' } }] }),
  );
}

/** Every path of a tree (the root included as ""), with type, mode, owner, link target, size and content hash. */
function describe(rootDir: string): { lines: Map<string, string>; inodes: Map<string, string> } {
  const lines = new Map<string, string>();
  const inodes = new Map<string, string>();
  const walk = (rel: string) => {
    const abs = rel ? path.join(rootDir, rel) : rootDir;
    const st = fs.lstatSync(abs);
    const meta = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
    if (st.isDirectory()) {
      lines.set(rel, `dir ${meta}`);
      for (const name of fs.readdirSync(abs).sort()) walk(rel ? `${rel}/${name}` : name);
    } else if (st.isSymbolicLink()) lines.set(rel, `symlink -> ${fs.readlinkSync(abs)} ${st.uid}:${st.gid}`);
    else if (st.isFile()) {
      lines.set(rel, `file ${meta} ${st.size} ${sha(fs.readFileSync(abs)).slice(0, 16)}`);
      inodes.set(rel, `${st.dev}:${st.ino}`);
    } else lines.set(rel, `special ${meta}`);
  };
  walk('');
  return { lines, inodes };
}

/** Groups of paths umoci made one inode; each must be one inode in sysctr's checkout too. */
function hardlinkGroups(inodes: Map<string, string>): string[][] {
  const by = new Map<string, string[]>();
  for (const [p, i] of inodes) by.set(i, [...(by.get(i) ?? []), p]);
  return [...by.values()].filter((g) => g.length > 1);
}

/** The source tree every tool archives. `bigIds`: a file owned by uid/gid 3000000 (over ustar's 2097151). */
function makeTree(dir: string, o: { longNames: boolean; bigIds: boolean; sparse: boolean; longLink: boolean }): void {
  fs.mkdirSync(dir, { mode: 0o755 });
  fs.chmodSync(dir, 0o755);
  const f = (rel: string, content: string | Buffer, mode = 0o644, uid = 0, gid = 0) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
    fs.chmodSync(path.join(dir, rel), mode);
    fs.chownSync(path.join(dir, rel), uid, gid);
  };
  f('etc/conf', 'key=value\n', 0o640, 1000, 1001);
  f('usr/bin/tool', '#!/bin/sh\necho tool\n', 0o755);
  f('usr/bin/suid', 'suid\n', 0o4755);
  f('big.bin', crypto.randomBytes(3 * 1024 * 1024 + 77));
  f('empty', '');
  fs.linkSync(path.join(dir, 'etc/conf'), path.join(dir, 'etc/conf-hardlink'));
  fs.symlinkSync('tool', path.join(dir, 'usr/bin/rel-link'));
  fs.symlinkSync('/etc/conf', path.join(dir, 'usr/bin/abs-link'));
  fs.mkdirSync(path.join(dir, 'var/empty'), { recursive: true, mode: 0o700 });
  fs.chmodSync(path.join(dir, 'var/empty'), 0o1777);
  fs.chownSync(path.join(dir, 'var/empty'), 7, 8);
  f('naïve-日本語/файл.txt', 'utf-8 names\n');
  if (o.longNames) {
    f(`long/${'a'.repeat(120)}`, 'over 100 bytes\n');
    const deep = `deep/${Array.from({ length: 5 }, (_, i) => `${i}`.repeat(60)).join('/')}/file-past-255-bytes`;
    f(deep, 'over 255 bytes\n');
    fs.linkSync(path.join(dir, deep), path.join(dir, 'deep/hardlink-to-long'));
  }
  if (o.longLink) fs.symlinkSync(`../${'t'.repeat(150)}`, path.join(dir, 'usr/long-target'));
  if (o.bigIds) f('bigid', 'big ids\n', 0o600, 3000000, 3000001);
  if (o.sparse) {
    // data, a hole, data, a trailing hole: 8 MiB in all
    const p = path.join(dir, 'sparse.img');
    sh('truncate', ['-s', '8M', p]);
    sh('dd', ['if=/dev/urandom', `of=${p}`, 'bs=4096', 'count=3', 'conv=notrunc', 'status=none']);
    sh('dd', ['if=/dev/urandom', `of=${p}`, 'bs=4096', 'count=2', 'seek=512', 'conv=notrunc', 'status=none']);
    fs.chownSync(p, 5, 6);
  }
}

interface Dialect {
  name: string;
  tree: { longNames: boolean; bigIds: boolean; sparse: boolean; longLink: boolean };
  /** writes the tar of `src` to `out` */
  make: (src: string, out: string) => void;
  /** what the archive must hold, to know the tool did what the case is about */
  expect?: (raw: Buffer) => void;
  /**
   * umoci 0.4.7 refuses old GNU sparse entries ("unknown typeflag '\x53'": Go's reader expands
   * them but keeps the type): those are compared with GNU tar's own extraction instead.
   */
  reference?: 'gnu-tar';
}

const all = { longNames: true, bigIds: true, sparse: false, longLink: true };
const gnuTar = (...args: string[]) => (src: string, out: string) => sh('tar', ['-C', src, '-cf', out, ...args, '.']);
const bsdtar = (...args: string[]) => (src: string, out: string) => sh('bsdtar', ['-C', src, '-cf', out, ...args, '.']);
const pyTar = (format: string) => (src: string, out: string) =>
  sh('python3', ['-c', `import tarfile,sys\nwith tarfile.open(sys.argv[2], 'w', format=tarfile.${format}) as t: t.add(sys.argv[1], arcname='.')`, src, out]);
const has = (what: string) => (raw: Buffer) => {
  if (!raw.includes(Buffer.from(what))) throw new Error(`the archive lacks ${JSON.stringify(what)}`);
};
const typeflagAt = (raw: Buffer, flag: string) => {
  for (let i = 0; i + 512 <= raw.length; i += 512) if (raw[i + 156] === flag.charCodeAt(0) && raw.toString('latin1', i + 257, i + 263) === 'ustar ') return true;
  return false;
};

const dialects: Dialect[] = [
  { name: 'GNU tar --format=gnu', tree: all, make: gnuTar('--format=gnu'), expect: has('././@LongLink') },
  { name: 'GNU tar --format=oldgnu', tree: all, make: gnuTar('--format=oldgnu') },
  { name: 'GNU tar --format=posix', tree: all, make: gnuTar('--format=posix'), expect: has(' path=') },
  { name: 'GNU tar --format=ustar', tree: { ...all, longNames: false, bigIds: false, longLink: false }, make: gnuTar('--format=ustar') },
  { name: 'GNU tar --format=v7', tree: { longNames: false, bigIds: false, sparse: false, longLink: false }, make: gnuTar('--format=v7') },
  {
    name: 'GNU tar -P with absolute names, "/" included',
    tree: all,
    make: (src, out) => sh('tar', ['-C', src, '-P', '--format=gnu', '--transform', 's,^\\./,/,;s,^\\.$,/,', '-cf', out, '.']),
    expect: has('/etc/conf\0'),
  },
  ...(['0.0', '0.1', '1.0'] as const).map((v) => ({
    name: `GNU tar --format=posix --sparse --sparse-version=${v}`,
    tree: { ...all, sparse: true },
    make: gnuTar('--format=posix', '--sparse', `--sparse-version=${v}`),
    expect: has(v === '1.0' ? 'GNU.sparse.major=1' : v === '0.1' ? 'GNU.sparse.map=' : 'GNU.sparse.offset='),
  })),
  {
    name: 'GNU tar --format=oldgnu --sparse (type S)',
    tree: { ...all, sparse: true },
    make: gnuTar('--format=oldgnu', '--sparse'),
    reference: 'gnu-tar',
    expect: (raw) => {
      if (!typeflagAt(raw, 'S')) throw new Error('no S header');
    },
  },
  { name: 'GNU tar --format=gnu --sparse (type S)', tree: { ...all, sparse: true }, make: gnuTar('--format=gnu', '--sparse'), reference: 'gnu-tar' },
  { name: 'bsdtar --format pax, a sparse file', tree: { ...all, sparse: true }, make: bsdtar('--format', 'pax'), expect: has('GNU.sparse') },
  // bsdtar stores sparse files whole in these two formats: the file must still come out right
  { name: 'bsdtar --format gnutar', tree: { ...all, sparse: true }, make: bsdtar('--format', 'gnutar'), expect: has('././@LongLink') },
  { name: 'bsdtar --format ustar', tree: { ...all, longNames: false, bigIds: false, longLink: false, sparse: true }, make: bsdtar('--format', 'ustar') },
  { name: 'Python tarfile GNU_FORMAT', tree: all, make: pyTar('GNU_FORMAT'), expect: has('././@LongLink') },
  { name: 'Python tarfile PAX_FORMAT', tree: all, make: pyTar('PAX_FORMAT'), expect: has(' path=') },
  { name: 'Python tarfile USTAR_FORMAT', tree: { ...all, longNames: false, bigIds: false, longLink: false }, make: pyTar('USTAR_FORMAT') },
];

let n = 0;
for (const d of dialects) {
  t.test(d.name, async (t) => {
    const id = n++;
    const src = path.join(work, `src${id}`);
    makeTree(src, d.tree);
    const tarFile = path.join(work, `l${id}.tar`);
    d.make(src, tarFile);
    const raw = fs.readFileSync(tarFile);
    d.expect?.(raw);
    const layout = path.join(work, `img${id}`);
    layoutFromTar(layout, raw);

    const bundle = path.join(work, `umoci${id}`);
    if (d.reference === 'gnu-tar') {
      fs.mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
      sh('tar', ['-C', path.join(bundle, 'rootfs'), '-xpf', tarFile, '--same-owner', '--numeric-owner']);
    } else sh('umoci', ['unpack', '--image', `${layout}:1`, bundle]);
    const pulled = await run(['pull', '-q', `oci:${layout}:1`]);
    t.equal(pulled.exitCode, 0, `pull: ${pulled.stderr}`);
    const co = path.join(work, `co${id}`);
    const r = await run(['checkout', `localhost/img${id}:1`, co]);
    t.equal(r.exitCode, 0, `checkout: ${r.stderr}`);
    if (pulled.exitCode || r.exitCode) return;

    const want = describe(path.join(bundle, 'rootfs'));
    const got = describe(co);
    const diff: string[] = [];
    for (const [p, l] of want.lines) if (got.lines.get(p) !== l) diff.push(`umoci ${p}: ${l}  /  sysctr: ${got.lines.get(p) ?? '(missing)'}`);
    for (const [p, l] of got.lines) if (!want.lines.has(p)) diff.push(`sysctr only ${p}: ${l}`);
    t.same(diff, [], `the checkout is what ${d.reference ?? 'umoci unpack'} gives`);
    // what the case is about, said plainly (the comparison above would also pass if both tools lost it)
    const src0 = describe(src).lines;
    for (const p of ['etc/conf', 'naïve-日本語/файл.txt', ...(d.tree.longNames ? [`long/${'a'.repeat(120)}`] : []), ...(d.tree.bigIds ? ['bigid'] : []), ...(d.tree.sparse ? ['sparse.img'] : [])]) {
      t.equal(got.lines.get(p), src0.get(p), `${p} as in the source tree`);
    }
    if (d.tree.sparse) t.equal(fs.statSync(path.join(co, 'sparse.img')).size, 8 << 20, 'the sparse file at its full size');
    for (const g of hardlinkGroups(want.inodes)) {
      t.equal(new Set(g.map((p) => got.inodes.get(p))).size, 1, `one inode for ${g.map((p) => p.slice(0, 40)).join(', ')}`);
    }
  });
}

t.test('the root entry "./" gives the root its mode and owner, as umoci does', async (t) => {
  const src = path.join(work, 'rootmode');
  makeTree(src, { longNames: false, bigIds: false, sparse: false, longLink: false });
  fs.chmodSync(src, 0o705);
  fs.chownSync(src, 1234, 4321);
  const tarFile = path.join(work, 'rootmode.tar');
  gnuTar('--format=gnu')(src, tarFile);
  const layout = path.join(work, 'rootmode-img');
  layoutFromTar(layout, fs.readFileSync(tarFile));
  sh('umoci', ['unpack', '--image', `${layout}:1`, path.join(work, 'rootmode-umoci')]);
  t.equal((await run(['pull', '-q', `oci:${layout}:1`])).exitCode, 0);
  const co = path.join(work, 'rootmode-co');
  t.equal((await run(['checkout', 'localhost/rootmode-img:1', co])).exitCode, 0);
  const st = fs.statSync(co);
  const um = fs.statSync(path.join(work, 'rootmode-umoci/rootfs'));
  t.same([st.mode & 0o7777, st.uid, st.gid], [0o705, 1234, 4321], 'root dir as the ./ entry says');
  t.same([st.mode & 0o7777, st.uid, st.gid], [um.mode & 0o7777, um.uid, um.gid], 'as umoci unpack gives it');
});

t.test('umoci insert layers: "/" entry, no end-of-archive blocks, the last padding missing', async (t) => {
  const layout = path.join(work, 'inserted');
  sh('umoci', ['init', '--layout', layout]);
  sh('umoci', ['new', '--image', `${layout}:1`]);
  const src = path.join(work, 'insert-src');
  makeTree(src, { longNames: true, bigIds: true, sparse: false, longLink: true });
  sh('umoci', ['insert', '--image', `${layout}:1`, src, '/']);
  fs.writeFileSync(path.join(work, 'insert-one'), 'x\n');
  sh('umoci', ['insert', '--image', `${layout}:1`, path.join(work, 'insert-one'), '/opt/one']);
  // what the case is about: the last layer ends right after its file's 3 bytes
  const manifest = JSON.parse(fs.readFileSync(path.join(layout, 'blobs/sha256', JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')).manifests[0].digest.slice(7)), 'utf8'));
  const last = zlib.gunzipSync(fs.readFileSync(path.join(layout, 'blobs/sha256', manifest.layers.at(-1).digest.slice(7))));
  t.equal(last.length, 512 + 2, 'the last layer: one header and 2 bytes of data, nothing after');

  sh('umoci', ['unpack', '--image', `${layout}:1`, path.join(work, 'inserted-umoci')]);
  const pulled = await run(['pull', '-q', `oci:${layout}:1`]);
  t.equal(pulled.exitCode, 0, `pull: ${pulled.stderr}`);
  const co = path.join(work, 'inserted-co');
  t.equal((await run(['checkout', 'localhost/inserted:1', co])).exitCode, 0);
  const want = describe(path.join(work, 'inserted-umoci/rootfs')).lines;
  const got = describe(co).lines;
  t.same([...got].sort(), [...want].sort(), 'the checkout is what umoci unpack gives');
  t.equal(fs.readFileSync(path.join(co, 'opt/one'), 'utf8'), 'x\n');
});

t.test('broken and hostile layers are refused with an error naming what is wrong', async (t) => {
  const src = path.join(work, 'hostile-src');
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'a'), 'a');
  fs.writeFileSync(path.join(src, 'b'), crypto.randomBytes(2000));
  // GNU tar: "a" has its header at 0, "b" at 1024, b's data from 1536
  const good = Buffer.from(execFileSync('tar', ['-C', src, '--format=gnu', '-cf', '-', 'a', 'b']));
  const fixSum = (raw: Buffer, at: number) => {
    raw.fill(0x20, at + 148, at + 156);
    let s = 0;
    for (let i = at; i < at + 512; i++) s += raw[i];
    raw.write(s.toString(8).padStart(6, '0') + '\0 ', at + 148, 'latin1');
    return raw;
  };
  const edit = (f: (raw: Buffer) => Buffer) => f(Buffer.from(good));
  fs.truncateSync(path.join(src, 'b'), 1 << 20);
  const sparse = Buffer.from(execFileSync('tar', ['-C', src, '--format=posix', '--sparse', '--sparse-version=1.0', '-cf', '-', 'b']));
  let mapAt = 0; // the map block follows the header of b's data, named GNUSparseFile.N/b
  for (let i = 0; i < sparse.length && !mapAt; i += 512) if (sparse[i + 156] === 0x30 && sparse.toString('latin1', i, i + 100).includes('GNUSparseFile')) mapAt = i + 512;
  const cases: Array<[string, Buffer, RegExp]> = [
    ['a header cut in half', good.subarray(0, 1024 + 256), /archive ends inside a header: 256 of its 512 bytes at offset 1024/],
    ['data shorter than its header says', good.subarray(0, 1536 + 10), /entry "b" \(header at offset 1024\) is cut short: the archive ends 1990 bytes before the end of its data/],
    ['a bad header checksum', edit((r) => ((r[1024] ^= 1), r)), /bad header checksum at offset 1024/],
    ['a negative size', edit((r) => fixSum((Buffer.from([0xff, ...Array(11).fill(0xff)]).copy(r, 1024 + 124), r), 1024)), /header at offset 1024 \(name field "b"\): negative size -1/],
    ['an absurd size', edit((r) => fixSum((Buffer.from([0x80, 0xff, ...Array(10).fill(0xff)]).copy(r, 1024 + 124), r), 1024)), /header at offset 1024 \(name field "b"\): absurd size/],
    ['an absurd sparse map', (() => { const r = Buffer.from(sparse); r.fill(0, mapAt, mapAt + 512); r.write('999999999\n0\n0\n', mapAt); return r; })(), /sparse map has 999999999 segments, more than 131072/],
    ['".." that climbs out', Buffer.from(execFileSync('tar', ['-C', src, '-P', '--transform', 's,^a$,../../a,', '--format=gnu', '-cf', '-', 'a'])), /"\.\.\/\.\.\/a" climbs out of the root/],
  ];
  for (const [what, raw, message] of cases) {
    const layout = path.join(work, `hostile-${what.replace(/\W+/g, '-')}`);
    layoutFromTar(layout, raw);
    const r = await run(['pull', `oci:${layout}:1`]);
    t.equal(r.exitCode, 1, `${what}: exit 1`);
    t.match(r.stderr, message, `${what}: ${r.stderr.trim().split('\n')[0]}`);
    t.equal(r.stderr.split('\n').filter((l) => l.startsWith('sysctr:')).length, 1, `${what}: one error line`);
  }
});

t.test('outer archives are read with the same reader: oci-archive by skopeo, docker save with a linked layer', async (t) => {
  if (!requirePrereqs(t, ['skopeo'])) return;
  const src = path.join(work, 'outer-src');
  makeTree(src, { longNames: true, bigIds: true, sparse: false, longLink: true });
  const raw = execFileSync('tar', ['-C', src, '--format=posix', '-cf', '-', '.'], { maxBuffer: 1 << 28 });
  const layout = path.join(work, 'outer-layout');
  layoutFromTar(layout, raw);
  const ociArchive = path.join(work, 'outer.oci.tar');
  sh('skopeo', ['copy', '-q', `oci:${layout}:1`, `oci-archive:${ociArchive}:1`]);
  const a = await run(['pull', '-q', `oci-archive:${ociArchive}:1`]);
  t.equal(a.exitCode, 0, `oci-archive pull: ${a.stderr}`);

  // docker save (legacy layout) links a layer that two images share to its first copy
  const dir = path.join(work, 'outer-docker');
  const diff = sha(raw);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [`sha256:${diff}`] } }));
  fs.mkdirSync(path.join(dir, 'real'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'real/layer.tar'), raw);
  fs.mkdirSync(path.join(dir, 'linked'));
  fs.symlinkSync('../real/layer.tar', path.join(dir, 'linked/layer.tar'));
  fs.writeFileSync(path.join(dir, `${sha(config)}.json`), config);
  const save = (layer: string) => {
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify([{ Config: `${sha(config)}.json`, RepoTags: ['outer/docker:1'], Layers: [layer] }]));
    const file = path.join(work, `outer-${layer.replace(/\W+/g, '-')}.docker.tar`);
    sh('tar', ['-C', dir, '-cf', file, '.']);
    return file;
  };
  const d = await run(['pull', '-q', `docker-archive:${save('linked/layer.tar')}`]);
  t.equal(d.exitCode, 0, `docker-archive pull of a symlinked layer: ${d.stderr}`);
  const co = path.join(work, 'outer-co');
  t.equal((await run(['checkout', 'outer/docker:1', co])).exitCode, 0);
  t.equal(fs.readFileSync(path.join(co, 'etc/conf'), 'utf8'), 'key=value\n');

  fs.symlinkSync('../../../../../etc/passwd', path.join(dir, 'escape.tar'));
  const bad = await run(['pull', `docker-archive:${save('escape.tar')}`]);
  t.equal(bad.exitCode, 1, 'a symlink out of the archive: refused');
  t.match(bad.stderr, /cannot read the archive: symlink "escape\.tar" -> "\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd" leads outside the archive/);
});

t.test('containers/storage whiteouts: the 2nd and later are regular files naming the 1st in their link field', async (t) => {
  const layout = path.join(work, 'cs-whiteouts');
  const image = buildImage({
    layers: [
      { entries: ['a', 'b', 'c', 'keep'].map((p) => ({ path: `etc/${p}`, content: p })) },
      {
        entries: [
          { path: 'etc/.wh.a', content: '' },
          { path: 'etc/.wh.b', content: '', target: 'etc/.wh.a' },
          { path: 'etc/.wh.c', content: '', target: 'etc/.wh.a' },
        ],
      },
    ],
  });
  writeOciLayout(layout, [{ image, ref: '1' }]);
  const pulled = await run(['pull', '-q', `oci:${layout}:1`]);
  t.equal(pulled.exitCode, 0, `pull: ${pulled.stderr}`);
  const co = path.join(work, 'cs-whiteouts-co');
  t.equal((await run(['checkout', 'localhost/cs-whiteouts:1', co])).exitCode, 0);
  t.same(fs.readdirSync(path.join(co, 'etc')), ['keep'], 'all three removed');
  sh('umoci', ['unpack', '--image', `${layout}:1`, path.join(work, 'cs-whiteouts-umoci')]);
  t.same(fs.readdirSync(path.join(work, 'cs-whiteouts-umoci/rootfs/etc')), ['keep'], 'as umoci unpack gives it');
});

t.test('a sparse file larger than the store has free is refused before a byte of it is written', async (t) => {
  const src = path.join(work, 'huge-src');
  fs.mkdirSync(src);
  const st = fs.statfsSync(work);
  const size = st.bavail * st.bsize * 2; // twice what is free: a few KB of tar on the wire
  sh('truncate', ['-s', String(size), path.join(src, 'holes')]);
  const raw = Buffer.from(execFileSync('tar', ['--sparse', '--format=posix', '-cf', '-', '-C', src, 'holes'], { maxBuffer: 1 << 26 }));
  t.ok(raw.length < 64 << 10, `the layer is ${raw.length} bytes`);
  const layout = path.join(work, 'huge');
  layoutFromTar(layout, raw);
  const t0 = Date.now();
  const r = await run(['pull', '-q', `oci:${layout}:1`]);
  t.equal(r.exitCode, 1, r.stderr);
  t.match(r.stderr, /no space left on \S+ \(the filesystem holding .*; [\d.]+ [GMT]iB free\): oci:.*needs at least [\d.]+ [GT]iB \(a file in it: "holes", [\d.]+ [GT]iB with any sparse holes, does not fit\)/);
  t.ok(Date.now() - t0 < 60_000, 'refused at once, not after writing zeros');
  t.same(fs.readdirSync(path.join(root, 'store/tmp')), [], 'nothing left in the store');
});

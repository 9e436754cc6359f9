/**
 * Images written by umoci 0.4.7 itself: `repack` (two layers: the base tree, then the content
 * script's deletions and awkward entries), and `insert` in each of its forms, whose layers have no
 * end-of-archive blocks. Each is pulled by sysctr, checked out, and compared with `umoci unpack`.
 */
import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { requirePrereqs } from '../helpers/prereq.js';
import { assertContent, pullMatchesUmoci, run, writeBaseTree } from '../helpers/builders.js';

if (!requirePrereqs(t, ['umoci', 'busybox'])) process.exit(0);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-bld-umoci-'));
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
const root = path.join(work, 'store');
const layout = path.join(work, 'layout');
const compare = (t: Test, tag: string, label: string) => pullMatchesUmoci(t, { root, work, source: `oci:${layout}:${tag}`, umociRef: async () => `${layout}:${tag}`, label });

/** The last layer blob of a tag, uncompressed. */
function lastLayer(tag: string): Buffer {
  const idx = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8'));
  const desc = idx.manifests.find((m: { annotations?: Record<string, string> }) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  const man = JSON.parse(fs.readFileSync(path.join(layout, 'blobs/sha256', desc.digest.slice(7)), 'utf8'));
  const blob = path.join(layout, 'blobs/sha256', man.layers.at(-1).digest.slice(7));
  return execFileSync('gzip', ['-dc', blob], { maxBuffer: 1 << 28 });
}

/** Entry names of a ustar stream read header by header (GNU tar stops at a missing last padding). */
function tarNames(raw: Buffer): string[] {
  const out: string[] = [];
  for (let off = 0; off + 512 <= raw.length; ) {
    const h = raw.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const field = (a: number, n: number) => h.subarray(a, a + n).toString('latin1').replace(/\0.*$/s, '');
    const prefix = field(345, 155);
    out.push(prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    off += 512 + Math.ceil(parseInt(field(124, 12).trim() || '0', 8) / 512) * 512;
  }
  return out;
}

// umoci repack: layer 1 is the base tree, layer 2 what the content script changed
await run('umoci', ['init', '--layout', layout]);
await run('umoci', ['new', '--image', `${layout}:v1`]);
const bundle = path.join(work, 'bundle');
await run('umoci', ['unpack', '--image', `${layout}:v1`, bundle]);
writeBaseTree(path.join(bundle, 'rootfs'));
await run('umoci', ['repack', '--image', `${layout}:v1`, bundle]);
await run('sh', [path.join(bundle, 'rootfs/mk.sh'), path.join(bundle, 'rootfs')]);
await run('umoci', ['repack', '--image', `${layout}:v1`, bundle]);
await run('umoci', ['config', '--image', `${layout}:v1`, '--config.cmd', '/usr/bin/run.sh', '--config.label', 'atomic.type=system']);

t.test('umoci repack: deletions, long and UTF-8 names, big owners, links, sparse, modes', async (t) => {
  const r = await compare(t, 'v1', 'repack');
  if (r) assertContent(t, r.tree, 'repack');
});

const src = path.join(work, 'insert-src');
fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
fs.writeFileSync(path.join(src, 'file'), 'inserted\n');
fs.writeFileSync(path.join(src, 'sub/big-owner'), 'x\n');
fs.chownSync(path.join(src, 'sub/big-owner'), 3000002, 3000003);
fs.linkSync(path.join(src, 'file'), path.join(src, 'sub/hard'));
fs.symlinkSync('../file', path.join(src, 'sub/up'));

t.test('umoci insert: a directory into a new layer (no end-of-archive blocks)', async (t) => {
  await run('umoci', ['insert', '--image', `${layout}:v1`, '--tag', 'ins', src, '/opt/inserted']);
  const raw = lastLayer('ins');
  t.not(raw.subarray(-1024).toString('hex'), '00'.repeat(1024), 'the layer ends without the two zero blocks (what umoci 0.4.7 writes)');
  await compare(t, 'ins', 'insert');
});

t.test('umoci insert of one file: the layer ends inside the last block of the file', async (t) => {
  const one = path.join(work, 'one-file');
  fs.writeFileSync(one, 'six b\n');
  await run('umoci', ['insert', '--image', `${layout}:ins`, '--tag', 'one', one, '/etc/one-file']);
  t.equal(lastLayer('one').length % 512, 6, 'no padding after the last 6 bytes (what umoci 0.4.7 writes)');
  await compare(t, 'one', 'insert-file');
});

t.test('umoci insert --whiteout: a file and a directory removed', async (t) => {
  await run('umoci', ['insert', '--image', `${layout}:ins`, '--tag', 'wh1', '--whiteout', '/etc/del/b']);
  await run('umoci', ['insert', '--image', `${layout}:wh1`, '--tag', 'wh', '--whiteout', '/links']);
  const r = await compare(t, 'wh', 'whiteout');
  t.notOk(r?.tree.has('etc/del/b') ?? true, 'etc/del/b gone');
  t.notOk(r?.tree.has('links') ?? true, 'links/ gone');
});

t.test('umoci insert --opaque: the directory holds only what was inserted', async (t) => {
  await run('umoci', ['insert', '--image', `${layout}:wh`, '--tag', 'opq', '--opaque', src, '/modes']);
  const r = await compare(t, 'opq', 'opaque');
  t.same([...(r?.tree.keys() ?? [])].filter((p) => p.startsWith('modes/') && !p.slice(6).includes('/')), ['modes/file', 'modes/sub'], 'only the inserted entries under modes/');
});

t.test('umoci insert of a tree at / (its first entry is named "/")', async (t) => {
  const top = path.join(work, 'top');
  fs.mkdirSync(path.join(top, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(top, 'etc/from-root-insert'), 'top\n');
  fs.chmodSync(top, 0o755);
  await run('umoci', ['insert', '--image', `${layout}:opq`, '--tag', 'root', top, '/']);
  const listing = tarNames(lastLayer('root'));
  t.equal(listing[0], '/', `umoci names the tree's top "/": ${listing.slice(0, 3).join(' ')}`);
  await compare(t, 'root', 'insert-root');
});

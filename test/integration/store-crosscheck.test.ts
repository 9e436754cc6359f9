/**
 * Images built or converted by other tools (umoci, skopeo) pulled and checked out by sysctr are
 * tree-identical to `umoci unpack` of the same image: paths, types, modes, owners, link targets,
 * content. (Device nodes and fifos, which sysctr skips by design, are left out of the comparison.)
 */
import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { sysctr } from '../helpers/cli.js';
import { buildImage, busyboxEntries, writeOciLayout, type TarEntry } from '../helpers/images.js';
import { requirePrereqs } from '../helpers/prereq.js';
import { describeTree, diffTrees } from '../helpers/tree-compare.js';

if (!requirePrereqs(t, ['umoci', 'skopeo', 'zstd'])) process.exit(0);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-xcheck-'));
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
const root = path.join(work, 'root');
const run = (args: string[]) => sysctr(args, { env: { SYSCTR_ROOT: root } });
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const special = (_p: string, d: string) => d.startsWith('special');

async function compareWithUmoci(t: Test, layoutRef: string, sysctrName: string, label: string) {
  const bundle = path.join(work, `umoci-${label}`);
  sh('umoci', ['unpack', '--image', layoutRef, bundle]);
  const co = path.join(work, `sysctr-${label}`);
  const r = await run(['checkout', sysctrName, co]);
  t.equal(r.exitCode, 0, r.stderr);
  const d = diffTrees(describeTree(path.join(bundle, 'rootfs')), describeTree(co), special);
  t.same(d, [], `${label}: sysctr checkout equals umoci unpack`);
  t.ok(describeTree(co).size > 3, 'a non-trivial tree');
}

// (gzip here: Debian's umoci does not read zstd layers; the zstd path is cross-checked below via skopeo)
t.test('sysctr-built layout with whiteouts, opaque dir, owners, links vs umoci unpack', async (t) => {
  const lower: TarEntry[] = [
    ...busyboxEntries(['sh', 'ls']),
    { path: 'etc', type: 'dir' },
    { path: 'etc/a', content: 'a' },
    { path: 'etc/gone', content: 'x' },
    { path: 'srv', type: 'dir', mode: 0o700, uid: 33, gid: 33 },
    { path: 'srv/www', content: 'hi', mode: 0o600, uid: 33, gid: 33 },
    { path: 'srv/hard', type: 'hardlink', target: 'srv/www' },
    { path: 'op', type: 'dir' },
    { path: 'op/old', content: 'old' },
    { path: 'usr', type: 'dir' },
    { path: 'usr/lib', type: 'dir' },
    { path: 'lib', type: 'symlink', target: 'usr/lib' },
    { path: 'empty', content: '' },
  ];
  const upper: TarEntry[] = [
    { path: 'etc/.wh.gone', content: '' },
    { path: 'op/.wh..wh..opq', content: '' },
    { path: 'op/new', content: 'new', mode: 0o4755 },
    { path: 'etc/a', content: 'A', mode: 0o640, uid: 1, gid: 2 },
    { path: 'abs', type: 'symlink', target: '/etc/a' },
  ];
  const layout = path.join(work, 'ours');
  writeOciLayout(layout, [{ image: buildImage({ layers: [{ entries: lower }, { entries: upper, compression: 'gzip' }] }), ref: 'v1' }]);
  t.equal((await run(['pull', `oci:${layout}:v1`])).exitCode, 0);
  await compareWithUmoci(t, `${layout}:v1`, 'ours:v1', 'ours');
});

t.test('an image built by umoci (init/new/repack), and skopeo conversions of it', async (t) => {
  const layout = path.join(work, 'umoci-layout');
  sh('umoci', ['init', '--layout', layout]);
  sh('umoci', ['new', '--image', `${layout}:base`]);
  const b = path.join(work, 'umoci-work');
  sh('umoci', ['unpack', '--image', `${layout}:base`, b]);
  const rootfs = path.join(b, 'rootfs');
  fs.mkdirSync(path.join(rootfs, 'bin'));
  fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
  fs.chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
  fs.symlinkSync('busybox', path.join(rootfs, 'bin/sh'));
  fs.mkdirSync(path.join(rootfs, 'etc/app'), { recursive: true });
  fs.writeFileSync(path.join(rootfs, 'etc/app/conf'), 'port=80\n');
  fs.chownSync(path.join(rootfs, 'etc/app/conf'), 100, 101);
  fs.writeFileSync(path.join(rootfs, 'etc/app/drop'), 'x');
  sh('umoci', ['repack', '--image', `${layout}:base`, b]);
  // second layer: a deletion and a change, as umoci writes them (whiteouts)
  fs.rmSync(b, { recursive: true });
  sh('umoci', ['unpack', '--image', `${layout}:base`, b]);
  fs.rmSync(path.join(rootfs, 'etc/app/drop'));
  fs.writeFileSync(path.join(rootfs, 'etc/app/conf'), 'port=8080\n');
  sh('umoci', ['repack', '--image', `${layout}:v2`, b]);
  sh('umoci', ['config', '--image', `${layout}:v2`, '--config.cmd', '/bin/sh', '--config.label', 'atomic.type=system']);

  let r = await run(['pull', `oci:${layout}:v2`]);
  t.equal(r.exitCode, 0, r.stderr);
  await compareWithUmoci(t, `${layout}:v2`, 'umoci-layout:v2', 'umoci-v2');
  const info = JSON.parse((await run(['images', 'info', 'umoci-layout:v2', '--json'])).stdout);
  t.equal(info.labels['atomic.type'], 'system', 'labels set by umoci config');
  t.same(info.cmd, ['/bin/sh']);

  const dtar = path.join(work, 'skopeo-docker.tar');
  sh('skopeo', ['copy', `oci:${layout}:v2`, `docker-archive:${dtar}:example.org/skopeo/app:v2`]);
  r = await run(['pull', `docker-archive:${dtar}`]);
  t.equal(r.exitCode, 0, r.stderr);
  await compareWithUmoci(t, `${layout}:v2`, 'example.org/skopeo/app:v2', 'skopeo-docker');

  const otar = path.join(work, 'skopeo.oci.tar');
  sh('skopeo', ['copy', `oci:${layout}:v2`, `oci-archive:${otar}:v2`]);
  r = await run(['pull', `oci-archive:${otar}:v2`]);
  t.equal(r.exitCode, 0, r.stderr);
  await compareWithUmoci(t, `${layout}:v2`, 'skopeo:v2', 'skopeo-oci');

  const zlayout = path.join(work, 'skopeo-zstd');
  sh('skopeo', ['copy', '--dest-compress-format', 'zstd', `oci:${layout}:v2`, `oci:${zlayout}:z`]);
  r = await run(['pull', `oci:${zlayout}:z`]);
  t.equal(r.exitCode, 0, r.stderr);
  await compareWithUmoci(t, `${layout}:v2`, 'skopeo-zstd:z', 'skopeo-zstd');
});

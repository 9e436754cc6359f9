/**
 * Images made by other people's tools (umoci, buildah, podman, skopeo), built at test time from
 * busybox-static and a script of awkward content, and the check every such image must pass: sysctr's
 * pull + checkout gives the same tree as `umoci unpack` of the same image.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import type { Test } from 'tap';
import { projectDir, sysctr } from './cli.js';
import { describeTree, diffTrees, hardlinkGroups, hardlinksSplit } from './tree-compare.js';

const example = path.join(projectDir, 'fixtures/images/example');
const applets = ['sh', 'ash', 'cat', 'echo', 'ls', 'sleep', 'httpd', 'wget', 'nc', 'mkdir', 'rm', 'env', 'id', 'ps', 'kill', 'true', 'false',
  'date', 'hostname', 'ln', 'chown', 'chmod', 'truncate', 'dd', 'printf', 'touch'];

/** Names that need PAX or GNU long-name records: a 150-byte name, a path over 255 bytes, UTF-8. */
export const names = {
  long: `long/${'a'.repeat(150)}`,
  deep: `long/${'d'.repeat(120)}/${'e'.repeat(120)}/${'f'.repeat(100)}.txt`,
  longLink: `long/hl-${'h'.repeat(120)}`,
  utf8: 'données/ünïcödé-名前.txt',
};

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The second layer's content, as a POSIX sh script run with the root dir as $1 (by busybox in a
 * builder's RUN, or by the host's sh for umoci): several deletions in one layer, a directory removed
 * and made again (opaque for overlay), and every kind of entry a tar reader trips over.
 */
export function contentScript(): string {
  return `set -e
cd "$1"
rm -rf etc/c etc/d etc/del/a gone
rm -rf opq && mkdir opq && echo new > opq/new
mkdir -p ${q(path.dirname(names.deep))} ${q(path.dirname(names.utf8))}
echo long > ${q(names.long)}
echo deep > ${q(names.deep)}
ln ${q(names.deep)} ${q(names.longLink)}
ln -s ${q(path.relative('long', names.deep))} long/sl
echo utf8 > ${q(names.utf8)}
ln -s ${q(path.basename(names.utf8))} 'données/lien-ü'
mkdir -p owners/bigdir links/sub sparse modes/sticky modes/private empty/nested/deeper
echo big > owners/big && chown 3000000:3000001 owners/big && chown 4000000:4000001 owners/bigdir
echo www > owners/www && chown 33:33 owners/www && chmod 640 owners/www
echo shared > links/a && ln links/a links/b && ln links/a links/sub/c
ln -s a links/rel && ln -s /etc/del/b links/abs && ln -s nowhere links/dangling && ln -s sub links/dir
truncate -s 6M sparse/holes && printf data | dd of=sparse/holes bs=1 seek=4194304 conv=notrunc 2>/dev/null
truncate -s 3M sparse/allhole
echo u > modes/setuid && chmod 4755 modes/setuid
echo g > modes/setgid && chmod 2711 modes/setgid
chmod 1777 modes/sticky && chmod 700 modes/private
echo r > modes/ro && chmod 400 modes/ro && echo n > modes/none && chmod 000 modes/none
`;
}

/**
 * The first layer's tree: busybox with its applets, the example image's rootfs and /exports (so
 * the same image also installs and serves), the files the second layer deletes, and /mk.sh.
 */
export function writeBaseTree(root: string): void {
  for (const d of ['bin', 'usr/bin', 'srv/www', 'proc', 'dev', 'sys', 'tmp', 'run', 'var', 'etc/del', 'gone/x', 'opq']) fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.chmodSync(path.join(root, 'tmp'), 0o1777);
  fs.copyFileSync('/bin/busybox', path.join(root, 'bin/busybox'));
  fs.chmodSync(path.join(root, 'bin/busybox'), 0o755);
  for (const a of applets) fs.symlinkSync('busybox', path.join(root, 'bin', a));
  fs.cpSync(path.join(example, 'rootfs'), root, { recursive: true });
  fs.cpSync(path.join(example, 'exports'), path.join(root, 'exports'), { recursive: true });
  for (const f of ['etc/c', 'etc/d', 'etc/del/a', 'etc/del/b', 'gone/x/y', 'opq/old']) fs.writeFileSync(path.join(root, f), `${f}\n`);
  fs.writeFileSync(path.join(root, 'mk.sh'), contentScript(), { mode: 0o755 });
  // in the first layer too (a COPY): a hardlinked pair and a sparse file
  fs.mkdirSync(path.join(root, 'usr/share/base'), { recursive: true });
  fs.writeFileSync(path.join(root, 'usr/share/base/one'), 'linked in the base\n');
  fs.linkSync(path.join(root, 'usr/share/base/one'), path.join(root, 'usr/share/base/two'));
  const fd = fs.openSync(path.join(root, 'usr/share/base/sparse'), 'w');
  fs.writeSync(fd, 'end', 5 << 20);
  fs.closeSync(fd);
}

/** A build context for buildah/podman: FROM scratch, COPY the base tree, RUN the content script. */
export function writeContext(dir: string): string {
  writeBaseTree(path.join(dir, 'rootfs'));
  fs.writeFileSync(
    path.join(dir, 'Containerfile'),
    ['FROM scratch', 'COPY rootfs/ /', 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'RUN ["/bin/sh", "/mk.sh", "/"]', 'CMD ["/usr/bin/run.sh"]', 'LABEL atomic.type=system', ''].join('\n'),
  );
  return dir;
}

/** buildah or podman with storage of its own under `dir` (never the host's /var/lib/containers). */
export function containersTool(tool: 'buildah' | 'podman', driver: 'overlay' | 'vfs', dir: string) {
  const base = ['--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'run'), '--storage-driver', driver];
  if (tool === 'podman') base.push('--cgroup-manager', 'cgroupfs', '--events-backend', 'none', '--tmpdir', path.join(dir, 'tmp'));
  const env = { CONTAINERS_CONF: path.join(dir, 'containers.conf'), TMPDIR: path.join(dir, 'tmp') };
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  fs.writeFileSync(env.CONTAINERS_CONF, '[engine]\nevents_logger = "none"\n');
  return async (args: string[]) => {
    const r = await execa(tool, [...base, ...args], { reject: false, env, all: true });
    if (r.exitCode !== 0) throw new Error(`${tool} ${args.join(' ')} (exit ${r.exitCode}): ${String(r.all).slice(-3000)}`);
    return String(r.stdout);
  };
}

export async function run(cmd: string, args: string[]): Promise<string> {
  const r = await execa(cmd, args, { reject: false, all: true });
  if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')} (exit ${r.exitCode}): ${String(r.all).slice(-3000)}`);
  return String(r.stdout);
}

export interface Reference {
  tree: Map<string, string>;
  hardlinks: string[][];
}

/** `umoci unpack` of an OCI layout ref, described. */
export async function umociReference(ref: string, work: string): Promise<Reference> {
  const bundle = fs.mkdtempSync(path.join(work, 'umoci-'));
  fs.rmdirSync(bundle);
  await run('umoci', ['unpack', '--image', ref, bundle]);
  const r = { tree: describeTree(path.join(bundle, 'rootfs')), hardlinks: hardlinkGroups(path.join(bundle, 'rootfs')) };
  fs.rmSync(bundle, { recursive: true, force: true });
  return r;
}

/**
 * Pulls SOURCE into the store at `root`, checks it out, and asserts the tree is the one `umoci
 * unpack` gives for the same image. `umociRef` makes an OCI layout ref of the artifact for umoci;
 * with a `cache`, images whose layers (diff_ids) were unpacked before reuse that reference, since
 * the same uncompressed layers unpack to the same tree. Returns the image's name and checked-out tree.
 */
export async function pullMatchesUmoci(
  t: Test,
  o: { root: string; work: string; source: string; pullArgs?: string[]; umociRef: () => Promise<string>; label: string; cache?: Map<string, Reference> },
): Promise<{ name: string; tree: Map<string, string> } | undefined> {
  const env = { SYSCTR_ROOT: o.root };
  const pull = await sysctr(['pull', ...(o.pullArgs ?? []), o.source], { env });
  t.equal(pull.exitCode, 0, `${o.label}: sysctr pull ${o.source}: ${pull.stderr.trim()}`);
  const name = /^(\S+): pulled sha256:/m.exec(pull.stdout)?.[1];
  if (pull.exitCode !== 0 || !name) return undefined;
  const co = path.join(o.work, `co-${o.label.replace(/\W+/g, '-')}`);
  const checkout = await sysctr(['checkout', name, co], { env });
  t.equal(checkout.exitCode, 0, `${o.label}: sysctr checkout: ${checkout.stderr.trim()}`);
  const key = (JSON.parse((await sysctr(['images', 'info', name, '--json'], { env })).stdout).layers as string[]).join(',');
  let ref = o.cache?.get(key);
  if (!ref) {
    ref = await umociReference(await o.umociRef(), o.work);
    o.cache?.set(key, ref);
  }
  const got = describeTree(co);
  // device nodes and fifos are skipped by sysctr by design; builders make none here
  t.same(diffTrees(ref.tree, got, (_p, d) => d.startsWith('special')), [], `${o.label}: checkout equals umoci unpack`);
  t.ok(ref.hardlinks.length >= 2, `${o.label}: umoci unpacked ${ref.hardlinks.length} hardlink groups`);
  t.same(hardlinksSplit(ref.hardlinks, co), [], `${o.label}: hardlinked files stay hardlinked`);
  t.ok(ref.tree.has('bin/busybox') && ref.tree.size > 40, `${o.label}: a real tree (${ref.tree.size} entries)`);
  return { name, tree: got };
}

/** What the content script made, checked on a checkout: the builder kept it all (not only "same as umoci"). */
export function assertContent(t: Test, tree: Map<string, string>, label: string, o: { deletions?: boolean } = {}): void {
  const has = (p: string, re: RegExp) => t.match(tree.get(p) ?? 'missing', re, `${label}: ${p}`);
  has(names.long, /^file 644 0:0 5 /);
  has(names.deep, /^file 644 0:0 5 /);
  has(names.utf8, /^file /);
  has('owners/big', /^file 644 3000000:3000001 /);
  has('owners/bigdir', /^dir 755 4000000:4000001/);
  has('owners/www', /^file 640 33:33 /);
  has('links/rel', /^symlink -> a /);
  has('links/abs', /^symlink -> \/etc\/del\/b /);
  has('long/sl', /^symlink -> d{120}\//);
  has('sparse/holes', /^file 644 0:0 6291456 /);
  has('sparse/allhole', /^file 644 0:0 3145728 /);
  has('modes/setuid', /^file 4755 /);
  has('modes/setgid', /^file 2711 /);
  has('modes/sticky', /^dir 1777 /);
  has('modes/none', /^file 0 /);
  has('empty/nested/deeper', /^dir 755 /);
  has('opq/new', /^file /);
  has('usr/share/base/sparse', /^file 644 0:0 5242883 /);
  if (o.deletions !== false) {
    for (const p of ['etc/c', 'etc/d', 'etc/del/a', 'gone', 'opq/old']) t.notOk(tree.has(p), `${label}: ${p} deleted`);
    has('etc/del/b', /^file /);
  }
}

/**
 * A full disk during a pull, on a real small filesystem (ext4 in a loop-mounted file): a clear
 * error naming the filesystem, what is free and what the image needs; nothing of the pull left
 * behind (no temp file, object, layer or images.json entry); the same pull works once space is
 * freed. Needs root (mount).
 */
import t from 'tap';
import { execa } from 'execa';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sysctr } from '../helpers/cli.js';
import { buildImage, writeOciLayout } from '../helpers/images.js';
import { requirePrereqs } from '../helpers/prereq.js';

if (!requirePrereqs(t, ['mkfs.ext4', 'mount', 'umount', 'losetup', 'fallocate'])) process.exit(0);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-full-'));
const mnt = path.join(work, 'mnt');
fs.mkdirSync(mnt);
const img = path.join(work, 'fs.img');
await execa('truncate', ['-s', '32M', img]);
await execa('mkfs.ext4', ['-q', '-F', '-m', '0', img]);
await execa('mount', ['-o', 'loop', img, mnt]);
t.teardown(async () => {
  await execa('umount', [mnt], { reject: false });
  fs.rmSync(work, { recursive: true, force: true });
});

const layout = path.join(work, 'layout');
// incompressible: the layer is as large on the wire as unpacked (12 MiB), so the numbers are plain
const data = crypto.randomBytes(12 << 20);
writeOciLayout(layout, [{ ref: 'v1', image: buildImage({ layers: [{ entries: [{ path: 'data/blob', content: data }, { path: 'data/small', content: 'x\n' }] }] }) }]);
const env = { SYSCTR_ROOT: path.join(mnt, 'root') };

/** every file under dir (the store's lock file aside) */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name !== 'lock') out.push(path.relative(dir, p));
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out;
}

t.test('no space: a clear error, nothing left behind; after freeing space the pull works', async (t) => {
  // leave about 6 MiB free: less than the image needs
  const st = fs.statfsSync(mnt);
  const filler = path.join(mnt, 'filler');
  await execa('fallocate', ['-l', String(st.bavail * st.bsize - (6 << 20)), filler]);
  const r = await sysctr(['pull', '-q', `oci:${layout}:v1`], { env });
  t.equal(r.exitCode, 1, r.stderr);
  t.match(r.stderr, new RegExp(`^sysctr: no space left on ${mnt} \\(the filesystem holding ${mnt}/root/store; [\\d.]+ MiB free\\): oci:${layout}:v1 needs at least 12\\.0 MiB`));
  t.match(r.stderr, /hint: free some space/);
  t.notMatch(r.stderr, /internal error/);
  t.same(filesUnder(path.join(mnt, 'root/store')), [], 'no temp file, object, layer, blob or images.json left');

  fs.rmSync(filler);
  const again = await sysctr(['pull', '-q', `oci:${layout}:v1`], { env });
  t.equal(again.exitCode, 0, again.stderr);
  const out = path.join(mnt, 'root/co');
  t.equal((await sysctr(['checkout', 'layout:v1', out], { env })).exitCode, 0);
  t.ok(fs.readFileSync(path.join(out, 'data/blob')).equals(data), 'the image is whole');
  t.equal((await sysctr(['fsck'], { env })).exitCode, 0, 'fsck is clean');
});

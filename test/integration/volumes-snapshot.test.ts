/**
 * Snapshots and backups of data volumes on real filesystems (root, no systemd): on this machine's
 * ext4 a snapshot is a copy; on a loop-mounted XFS with reflinks it shares the files' blocks (the
 * free space does not move). Owners, modes, times, symlinks and hardlinks survive a snapshot and
 * a restore, and a backup file; GNU tar reads sysctr's backup; a truncated or corrupt backup is
 * refused with its staging directory removed.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { copyTree } from '../../lib/deploy/copy-tree.js';
import { readSnapshot, restoreSnapshot, takeSnapshot } from '../../lib/deploy/snapshot.js';
import { readBackup, writeBackup } from '../../lib/deploy/backup-archive.js';
import type { Volume } from '../../lib/deploy/volumes.js';
import { requirePrereqs } from '../helpers/prereq.js';

/** A small data volume: a file owned by 10000, a hardlink to it, a symlink, a private subdir. */
function fill(dir: string, bigBytes = 0): void {
  fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'count'), '41\n');
  fs.chownSync(path.join(dir, 'count'), 10000, 10001);
  fs.chmodSync(path.join(dir, 'count'), 0o640);
  fs.utimesSync(path.join(dir, 'count'), 1_000_000, 1_000_000);
  fs.linkSync(path.join(dir, 'count'), path.join(dir, 'count.hard'));
  fs.symlinkSync('count', path.join(dir, 'latest'));
  fs.chmodSync(path.join(dir, 'sub'), 0o700);
  if (bigBytes) fs.writeFileSync(path.join(dir, 'sub/big'), Buffer.alloc(bigBytes, 0x5a));
}

function describe(dir: string): string[] {
  const out: string[] = [];
  const walk = (abs: string, rel: string) => {
    for (const e of fs.readdirSync(abs).sort()) {
      const p = path.join(abs, e);
      const st = fs.lstatSync(p);
      const what = st.isSymbolicLink() ? `-> ${fs.readlinkSync(p)}` : st.isFile() ? `${st.size} ${st.nlink} ${Math.floor(st.mtimeMs / 1000)}` : 'dir';
      out.push(`${rel}${e} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${what}`);
      if (st.isDirectory()) walk(p, `${rel}${e}/`);
    }
  };
  walk(dir, '');
  return out;
}

const volume = (root: string, name: string): Volume => ({ name, type: 'data', mount: `/${name}`, hostPath: path.join(root, 'volumes/app', name), snapshot: true, variable: 'VOLUME_X', from: 'manifest' });

if (requirePrereqs(t, ['zstd', 'tar'])) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vol-snap-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

  t.test('ext4: the snapshot is a copy that keeps owners, modes, times and links; restore puts it back', async (t) => {
    const root = path.join(tmp, 'ext4');
    const v = volume(root, 'data');
    fill(v.hostPath);
    const before = describe(v.hostPath);
    const meta = takeSnapshot(root, 'app', [v], { token: 'tok-1', from: 0, to: 1 });
    t.equal(meta.volumes[0].reflinked, 0, 'ext4 has no reflinks: copied');
    t.equal(meta.volumes[0].files, 1, 'the hardlink is a link again, not a second copy');
    t.same(describe(path.join(root, 'volumes/app/.snapshot/data')), before);
    t.equal(readSnapshot(root, 'app')?.token, 'tok-1');
    fs.writeFileSync(path.join(v.hostPath, 'count'), 'garbage\n');
    fs.writeFileSync(path.join(v.hostPath, 'new'), 'x');
    restoreSnapshot(root, 'app', meta);
    t.same(describe(v.hostPath), before, 'as it was');
    t.same(fs.readdirSync(path.join(root, 'volumes/app')).sort(), ['.snapshot', 'data'], 'no temp dirs left');
    // a second update replaces the snapshot (one is kept)
    fs.writeFileSync(path.join(v.hostPath, 'count'), '42\n');
    takeSnapshot(root, 'app', [v], { token: 'tok-2', from: 1, to: 0 });
    t.equal(fs.readFileSync(path.join(root, 'volumes/app/.snapshot/data/count'), 'utf8'), '42\n');
    t.same(fs.readdirSync(path.join(root, 'volumes/app')).sort(), ['.snapshot', 'data']);
  });

  t.test('XFS with reflinks (loop-mounted): the snapshot shares the blocks', async (t) => {
    if (!requirePrereqs(t, ['mkfs.xfs', 'losetup', 'mount', 'umount'])) return;
    const img = path.join(tmp, 'xfs.img');
    const mnt = path.join(tmp, 'xfs');
    fs.mkdirSync(mnt);
    fs.writeFileSync(img, '');
    fs.truncateSync(img, 400 * 2 ** 20);
    await execa('mkfs.xfs', ['-q', '-m', 'reflink=1', img]);
    await execa('mount', ['-o', 'loop', img, mnt]);
    t.teardown(async () => {
      await execa('umount', [mnt], { reject: false });
    });
    const v = volume(mnt, 'data');
    fill(v.hostPath, 64 * 2 ** 20);
    const before = describe(v.hostPath);
    await execa('sync');
    const free = () => fs.statfsSync(mnt).bfree * fs.statfsSync(mnt).bsize;
    const f0 = free();
    const meta = takeSnapshot(mnt, 'app', [v], { token: 'tok', from: 0, to: 1 });
    await execa('sync');
    t.equal(meta.volumes[0].reflinked, meta.volumes[0].files, 'every file a reflink');
    t.ok(f0 - free() < 8 * 2 ** 20, `64 MiB snapshotted for ${((f0 - free()) / 2 ** 20).toFixed(1)} MiB of space`);
    t.same(describe(path.join(mnt, 'volumes/app/.snapshot/data')), before);
    // a byte copy of the same file costs its size: the measure tells the two apart (copyFileSync
    // is no control: its copy_file_range may share blocks on XFS by itself)
    const f1 = free();
    fs.writeFileSync(path.join(mnt, 'plain-copy'), fs.readFileSync(path.join(v.hostPath, 'sub/big')));
    await execa('sync');
    t.ok(f1 - free() >= 60 * 2 ** 20, 'a plain copy takes the space');
    fs.writeFileSync(path.join(v.hostPath, 'sub/big'), 'changed');
    restoreSnapshot(mnt, 'app', meta);
    t.same(describe(v.hostPath), before, 'restored');
    const direct = copyTree(v.hostPath, path.join(mnt, 'again'));
    t.equal(direct.reflinked, 2);
  });

  t.test('backup file: read back whole; GNU tar reads it; truncated or corrupt: refused, nothing left', async (t) => {
    const root = path.join(tmp, 'bk');
    const v = volume(root, 'data');
    fill(v.hostPath, 300_000);
    fs.writeFileSync(path.join(v.hostPath, `${'n'.repeat(150)}`), 'long name');
    const before = describe(v.hostPath);
    const file = path.join(tmp, 'app.sysctr-backup');
    const progress: number[] = [];
    const m = await writeBackup(file, [v], { format: 1, name: 'app', image: 'localhost/app:1', imageId: 'sha256:ab', set: { A: 'b' }, wasActive: true, live: false, created: new Date().toISOString(), volumes: [{ name: 'data', mount: '/data' }] }, (b) => progress.push(b));
    t.same(Object.keys(m.files).sort(), ['volumes/data/count', `volumes/data/${'n'.repeat(150)}`, 'volumes/data/sub/big']);
    t.equal(progress.at(-1), 300_000 + 3 + 9, 'progress counts the bytes read');
    const listed = await execa('sh', ['-c', `zstd -dc ${file} | tar -tvf -`]);
    t.match(listed.stdout, /volumes\/data\/count\.hard link to volumes\/data\/count/);
    t.match(listed.stdout, `volumes/data/${'n'.repeat(150)}`);
    t.match(listed.stdout, /sysctr-backup\.json/);
    const staging = path.join(root, 'staging');
    const back = await readBackup(file, staging);
    t.equal(back.image, 'localhost/app:1');
    t.same(describe(path.join(staging, 'volumes/data')), before, 'owners, modes, times and links as they were');
    fs.rmSync(staging, { recursive: true });

    const bytes = fs.readFileSync(file);
    const cases: Array<[string, Buffer, RegExp]> = [
      ['truncated', bytes.subarray(0, bytes.length - 200), /is truncated or corrupt/],
      ['corrupt', Buffer.from(bytes).fill(0x11, 100, 110), /is truncated or corrupt/],
      ['not zstd', Buffer.from('hello world'), /is not a sysctr backup/],
    ];
    for (const [what, buf, msg] of cases) {
      const f = path.join(tmp, `${what}.sysctr-backup`);
      fs.writeFileSync(f, buf);
      await t.rejects(readBackup(f, staging), msg, `${what}: refused`);
      t.notOk(fs.existsSync(staging), `${what}: no staging dir left`);
    }
    // an archive whose files do not match its own checksums (written, then one file changed in it)
    const { TarWriter } = await import('../../lib/layer/tar-writer.js');
    const parts: Buffer[] = [];
    const w = new TarWriter((b) => void parts.push(Buffer.from(b)));
    await w.entry({ name: 'volumes/data', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0 });
    await w.entry({ name: 'volumes/data/count', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 3 });
    await w.data(Buffer.from('99\n'));
    const json = Buffer.from(JSON.stringify({ ...m, files: { 'volumes/data/count': { sha256: m.files['volumes/data/count'].sha256, size: 3 } } }));
    await w.entry({ name: 'sysctr-backup.json', type: 'file', mode: 0o600, uid: 0, gid: 0, mtime: 0, size: json.length });
    await w.data(json);
    await w.end();
    const forged = path.join(tmp, 'forged.sysctr-backup');
    await execa('zstd', ['-q', '-o', forged], { input: Buffer.concat(parts) });
    await t.rejects(readBackup(forged, staging), /the checksum of volumes\/data\/count does not match/);
    t.notOk(fs.existsSync(staging));
  });
}

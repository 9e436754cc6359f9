/**
 * Volumes end to end (docs/volumes.md), in a systemd booted with systemd-nspawn, with real runc:
 * an image running as uid 10000 counts its starts in its data volume and serves an asset; install,
 * update (count kept, new asset), a broken version that writes garbage to the data and exits
 * (automatic rollback: the data as before that update), rollback --with-data, uninstall keeping the
 * data and a reinstall using it, backup, uninstall --purge, restore (count back), and the refusals
 * (a corrupt or truncated backup, a restore over data without --force).
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { projectDir } from '../helpers/cli.js';
import { buildImageWithUmoci } from '../helpers/images.js';
import { Machine, requireRealSystemd } from '../helpers/nspawn.js';

t.setTimeout(900_000);

if (requireRealSystemd(t)) {
  const m = await Machine.boot({ timeoutMs: 150_000 });
  t.teardown(() => m.shutdown());
  const layout = path.join(m.scratch, 'layout');
  for (const v of ['v1', 'v2', 'broken']) {
    await buildImageWithUmoci(path.join(projectDir, `fixtures/images/volumes-${v}`), layout, v);
    // a non-root service: its data volume must be made for it; v1 also has a Dockerfile VOLUME
    await execa('umoci', ['config', '--image', `${layout}:${v}`, '--config.user', '10000:10000', ...(v === 'v1' ? ['--config.volume', '/cache'] : [])]);
  }
  const root = '/var/lib/sysctr-vol';
  const env = { SYSCTR_ROOT: root };
  const sysctr = (args: string[]) => m.sysctr(args, env);
  const name = 'vol-web';
  const data = `${root}/volumes/${name}/data`;

  /** GET a path from the service; polls until want matches (it may still be starting). */
  const get = async (file: string, want: RegExp): Promise<string> => {
    let body = '';
    for (let i = 0; i < 60; i++) {
      const r = await m.exec(['busybox', 'wget', '-qO-', `http://127.0.0.1:8470/${file}`]);
      body = r.exitCode === 0 ? r.stdout.trim() : '';
      if (want.test(body)) break;
      await new Promise((res) => setTimeout(res, 150));
    }
    return body;
  };
  const count = () => get('data/count', /^\d+$/);
  const sh = async (script: string) => (await m.sh(script)).stdout.trim();

  t.test('install: the data volume is made for uid 10000, the asset served, the count is 1', async (t) => {
    for (const v of ['v1', 'v2', 'broken']) t.equal((await sysctr(['pull', `oci:${layout}:${v}`])).exitCode, 0, `pull ${v}`);
    const info = await sysctr(['images', 'info', 'layout:v1']);
    t.match(info.stdout, /Volumes:[^\n]*\n\s+data\s+data\s+\/data\s+\(\$VOLUME_DATA\)\n\s+web\s+assets\s+\/assets/, 'images info lists the declared volumes');
    t.match(info.stdout, /cache\s+data\s+\/cache\s+\(\$VOLUME_CACHE, from the image config's Volumes\)/, 'a Dockerfile VOLUME is a data volume');
    t.match(info.stdout, /VOLUME_DATA\s+set by sysctr/, 'VOLUME_DATA is not one to --set');
    const r = await sysctr(['install', '--name', name, '--now', 'layout:v1']);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, `created data volume ${data} (owner 10000:10000)`);
    t.equal(await sh(`stat -c '%u:%g %a' ${data} ${root}/volumes/${name}/cache`), '10000:10000 755\n10000:10000 755');
    t.equal(await count(), '1');
    t.equal(await get('assets/banner.txt', /banner/), 'banner v1');
    t.equal(await sh(`stat -c %u ${data}/count`), '10000', 'the service (uid 10000) wrote its count');
    // the asset volume is read-only in the container
    const w = await m.exec(['runc', 'exec', name, 'sh', '-c', 'echo x > /assets/x']);
    t.not(w.exitCode, 0, 'assets are mounted read-only');
    const ci = await sysctr(['containers', 'info', name]);
    t.match(ci.stdout, new RegExp(`volumes:\\n\\s+data \\(data\\) /data <- ${data}, \\d+ B\\n`));
    t.match(ci.stdout, /web \(assets\) \/assets <- \S+vol-web\.0\/rootfs\/exports\/assets\/web \(read-only\)/);
  });

  t.test('update: the count is kept, the asset is the new image\'s, the data was snapshotted', async (t) => {
    const dry = await sysctr(['containers', 'update', '--dry-run', '--rebase', 'layout:v2', name]);
    t.equal(dry.exitCode, 0, dry.stderr);
    t.match(dry.stdout, new RegExp(`would snapshot volume data \\(${data}, \\d+ B\\) before switching`));
    t.match(dry.stdout, /would not snapshot|would snapshot volume cache/, 'every data volume is named');
    const r = await sysctr(['containers', 'update', '--rebase', 'layout:v2', '--settle', '1', name]);
    t.equal(r.exitCode, 0, r.stderr);
    t.equal(await count(), '2');
    t.equal(await get('assets/banner.txt', /banner v2/), 'banner v2');
    t.equal(await sh(`cat ${root}/volumes/${name}/.snapshot/data/count`), '1', 'the snapshot holds the data as it was before the switch');
  });

  t.test('a broken version writes garbage and exits: the automatic rollback restores the data', async (t) => {
    const r = await sysctr(['containers', 'update', '--rebase', 'layout:broken', '--settle', '1', name]);
    t.equal(r.exitCode, 1, 'the update failed');
    t.match(r.stderr, /did not start/);
    t.match(r.stdout, /restored data from the snapshot taken/);
    // 2 before the update, restored, then one more start of v2
    t.equal(await count(), '3');
    t.equal(await sh(`test -e ${data}/migrated && echo left || echo gone`), 'gone', 'what the broken version wrote is gone');
    t.equal(await get('assets/banner.txt', /banner v2/), 'banner v2');
    t.equal(await sh(`ls -A ${root}/volumes/${name} | grep -c '^\\.' || true`), '1', 'only .snapshot: no temp dir left');
  });

  t.test('rollback --with-data: the data as the last update found it, and how old that is', async (t) => {
    const refused = await sysctr(['containers', 'rollback', '--with-data', name]);
    t.equal(refused.exitCode, 1, 'the snapshot is from the failed update, not from the one that made this deployment live');
    t.match(refused.stderr, /not from the update that made vol-web\.1 live/);
    t.equal(await count(), '3', 'nothing changed');
    const up = await sysctr(['containers', 'update', '--rebase', 'layout:v1', '--settle', '1', name]);
    t.equal(up.exitCode, 0, up.stderr);
    t.equal(await count(), '4');
    const r = await sysctr(['containers', 'rollback', '--with-data', name]);
    t.equal(r.exitCode, 0, r.stderr);
    t.match(r.stdout, /restored its data \(data\) from the snapshot taken \d+ seconds ago/);
    t.equal(await count(), '4', '3 as the update found it, then one start');
    const plain = await sysctr(['containers', 'rollback', name]);
    t.equal(plain.exitCode, 0, plain.stderr);
    t.equal(await count(), '5', 'a rollback without --with-data keeps today\'s data');
  });

  t.test('uninstall keeps the data; installing again uses it', async (t) => {
    const un = await sysctr(['uninstall', name]);
    t.equal(un.exitCode, 0, un.stderr);
    t.match(un.stdout, `kept the data volumes of ${name} in ${root}/volumes/${name}`);
    t.equal(await sh(`cat ${data}/count`), '5');
    const r = await sysctr(['install', '--name', name, '--now', 'layout:v1']);
    t.equal(r.exitCode, 0, r.stderr);
    t.equal(await count(), '6');
  });

  const backup = path.join(m.scratch, 'vol-web.backup');
  t.test('backup, uninstall --purge, restore: the count is back', async (t) => {
    const b = await sysctr(['backup', name, '-o', backup]);
    t.equal(b.exitCode, 0, b.stderr);
    t.equal(await sh(`systemctl is-active ${name}.service`), 'active', 'started again after the backup');
    t.equal(await count(), '7', 'the backup stopped and started it (one start more)');
    t.equal((await execa('zstd', ['-t', backup], { reject: false })).exitCode, 0, 'a zstd file');
    const purge = await sysctr(['uninstall', '--purge', name]);
    t.equal(purge.exitCode, 0, purge.stderr);
    t.equal(await sh(`test -e ${root}/volumes/${name} && echo left || echo gone`), 'gone');
    const r = await sysctr(['restore', backup]);
    t.equal(r.exitCode, 0, r.stderr);
    t.equal(await sh(`systemctl is-active ${name}.service`), 'active');
    t.equal(await count(), '7', 'backed up at 6 (the service was stopped for it), then one start');
    t.equal(await sh(`stat -c %u ${data}/count`), '10000', 'owners kept');
  });

  t.test('a restore over existing data without --force, a corrupt or truncated backup: refused, nothing changed', async (t) => {
    const over = await sysctr(['restore', backup]);
    t.equal(over.exitCode, 1);
    t.match(over.stderr, /--force/);
    const before = await count();
    const bytes = fs.readFileSync(backup);
    const truncated = path.join(m.scratch, 'truncated.backup');
    fs.writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const corrupt = path.join(m.scratch, 'corrupt.backup');
    const flipped = Buffer.from(bytes);
    flipped[Math.floor(flipped.length / 2)] ^= 0xff;
    fs.writeFileSync(corrupt, flipped);
    for (const f of [truncated, corrupt]) {
      const r = await sysctr(['restore', '--force', f]);
      t.equal(r.exitCode, 1, `${path.basename(f)} refused`);
      t.match(r.stderr, /backup .* (is truncated or corrupt|checksum)/);
    }
    t.equal(await count(), before, 'the service and its data as they were');
    t.equal(await sh(`ls -A ${root}/volumes/${name} | grep -v '^\\.snapshot$' | grep -c '^\\.' || true`), '0', 'no temp dir left');
    await m.exec(['systemctl', 'restart', `${name}.service`]);
    t.equal(await get('data/count', /^8$/), '8');
    const forced = await sysctr(['restore', '--force', backup]);
    t.equal(forced.exitCode, 0, forced.stderr);
    t.equal(await get('data/count', /^7$/), '7', 'the data replaced by the backup\'s (6), then one start');
    const un = await sysctr(['uninstall', '--purge', name]);
    t.equal(un.exitCode, 0, un.stderr);
  });
}

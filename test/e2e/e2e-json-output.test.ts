/**
 * --json in a systemd booted with systemd-nspawn, with real runc (docs/json-output.md): install,
 * containers update, start, stop and uninstall each run twice print changed true, then changed
 * false with exit 0; --dry-run prints the same object with dryRun and changes nothing; rollback
 * switches each time it runs (changed true both times); backup and restore (of a container that is
 * not started) say changed true each time.
 */
import t, { type Test } from 'tap';
import path from 'node:path';
import { projectDir } from '../helpers/cli.js';
import { Machine, requireRealSystemd } from '../helpers/nspawn.js';
import { buildImageWithUmoci } from '../helpers/images.js';

if (requireRealSystemd(t)) {
  const m = await Machine.boot();
  t.teardown(() => m.shutdown());
  const layout = path.join(m.scratch, 'layout');
  for (const v of ['v1', 'v2']) await buildImageWithUmoci(path.join(projectDir, `fixtures/images/update-${v}`), layout, v);
  await buildImageWithUmoci(path.join(projectDir, 'fixtures/images/volumes-v1'), layout, 'vol1');
  const root = '/var/lib/sysctr-json';
  const name = 'json-web';
  /** stdout must be exactly one JSON object */
  const json = async (t: Test, args: string[]) => {
    const r = await m.sysctr([...args, '--json'], { SYSCTR_ROOT: root });
    t.equal(r.exitCode, 0, r.exitCode === 0 ? args.join(' ') : `${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };
  const active = async () => (await m.exec(['systemctl', 'is-active', `${name}.service`])).stdout.trim();
  const link = async () => (await m.exec(['readlink', `${root}/${name}`])).stdout.trim();

  t.before(async () => {
    for (const v of ['v1', 'v2', 'vol1']) {
      const p = await m.sysctr(['pull', `oci:${layout}:${v}`], { SYSCTR_ROOT: root });
      if (p.exitCode !== 0) throw new Error(`pull ${v}: ${p.stderr}`);
    }
  });

  t.test('install, twice', async (t) => {
    const args = ['install', '--name', name, '--set', 'PORT=8361', '--now', '--settle', '1', 'layout:v1'];
    t.match(await json(t, ['install', '--dry-run', ...args.slice(1)]), { changed: true, dryRun: true, name });
    t.equal((await m.exec(['test', '-e', `${root}/${name}`])).exitCode, 1, 'the dry run installed nothing');
    t.match(await json(t, args), { changed: true, name, unit: `${name}.service`, image: 'localhost/layout:v1', deployment: `${root}/${name}.0`, values: { PORT: '8361' }, started: true });
    t.equal(await active(), 'active');
    t.match(await json(t, args), { changed: false, name, image: 'localhost/layout:v1', values: { PORT: '8361' } });
  });

  t.test('stop and start, twice each', async (t) => {
    t.match(await json(t, ['stop', '--dry-run', name]), { changed: true, dryRun: true, state: 'running' });
    t.equal(await active(), 'active', 'the dry run stopped nothing');
    t.match(await json(t, ['stop', name]), { changed: true, before: 'running', state: 'inactive' });
    t.match(await json(t, ['stop', name]), { changed: false, before: 'inactive', state: 'inactive' });
    t.match(await json(t, ['start', name]), { changed: true, before: 'inactive', state: 'running' });
    t.match(await json(t, ['start', name]), { changed: false, before: 'running', state: 'running' });
    t.equal(await active(), 'active');
  });

  t.test('containers update, twice; rollback', async (t) => {
    const args = ['containers', 'update', '--rebase', 'layout:v2', '--settle', '1', name];
    t.match(await json(t, [...args.slice(0, 2), '--dry-run', ...args.slice(2)]), { changed: true, dryRun: true, status: 'updated' });
    t.equal(await link(), `${name}.0`, 'the dry run switched nothing');
    t.match(await json(t, args), { changed: true, status: 'updated', from: `${name}.0`, to: `${name}.1`, image: 'localhost/layout:v2', previousImage: 'localhost/layout:v1', restarted: true, set: { PORT: '8361' } });
    t.match(await json(t, args), { changed: false, status: 'up-to-date', to: `${name}.1` });
    t.match(await json(t, ['containers', 'rollback', '--settle', '1', name]), { changed: true, from: `${name}.1`, to: `${name}.0`, image: 'localhost/layout:v1' });
    t.equal(await link(), `${name}.0`);
    t.match(await json(t, ['containers', 'rollback', '--settle', '1', name]), { changed: true, to: `${name}.1` }, 'a second rollback switches back');
    t.equal(await active(), 'active');
  });

  t.test('uninstall, twice', async (t) => {
    t.match(await json(t, ['uninstall', '--dry-run', name]), { changed: true, dryRun: true, name });
    t.equal(await active(), 'active', 'the dry run removed nothing');
    t.match(await json(t, ['uninstall', name]), { changed: true, name, unit: `${name}.service` });
    t.match(await json(t, ['uninstall', name]), { changed: false, name });
    t.equal((await m.exec(['test', '-e', `/etc/systemd/system/${name}.service`])).exitCode, 1, 'the unit is gone');
  });

  t.test('backup and restore', async (t) => {
    const vol = 'json-vol';
    t.match(await json(t, ['install', '--name', vol, 'layout:vol1']), { changed: true, name: vol });
    const file = `${root}/json-vol.backup`;
    const b = await json(t, ['backup', vol, '-o', file]);
    t.match(b, { changed: true, name: vol, file });
    t.equal((await m.exec(['test', '-s', file])).exitCode, 0, 'the backup file is there');
    t.match(await json(t, ['restore', '--force', file]), { changed: true, name: vol, installed: false });
    t.match(await json(t, ['uninstall', '--purge', vol]), { changed: true, purge: true });
  });
}

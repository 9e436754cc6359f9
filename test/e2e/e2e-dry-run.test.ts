/**
 * backup --dry-run and restore --dry-run in a systemd booted with systemd-nspawn (docs/json-output.md):
 * the object the command prints, with dryRun: true; the service is not stopped, no file is
 * written, the state root is as it was (compared file by file, in the machine); a restore dry run
 * still refuses what a restore refuses (data in the way without --force, a damaged file).
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
  await buildImageWithUmoci(path.join(projectDir, 'fixtures/images/volumes-v1'), layout, 'vol1');
  const root = '/var/lib/sysctr-dryrun';
  const name = 'dryrun-vol';
  const env = { SYSCTR_ROOT: root };
  const json = async (t: Test, args: string[], exitCode = 0) => {
    const r = await m.sysctr([...args, '--json'], env);
    t.equal(r.exitCode, exitCode, r.exitCode === exitCode ? args.join(' ') : `${args.join(' ')}: ${r.stderr}`);
    return { ...r, json: r.stdout ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined };
  };
  /** every path under the state root and /srv with its size and mtime, as the machine sees them */
  const state = async () => (await m.exec(['find', root, '/srv', '-printf', '%p %y %s %T@\\n'])).stdout.split('\n').sort().join('\n');
  const active = async () => (await m.exec(['systemctl', 'is-active', `${name}.service`])).stdout.trim();
  const sinceActive = async () => (await m.exec(['systemctl', 'show', '-P', 'ActiveEnterTimestampMonotonic', `${name}.service`])).stdout.trim();

  t.before(async () => {
    const i = await m.sysctr(['install', '--name', name, '--now', '--settle', '1', `oci:${layout}:vol1`], env);
    if (i.exitCode !== 0) throw new Error(`install: ${i.stderr}`);
    await m.exec(['mkdir', '-p', '/srv']);
  });

  t.test('backup --dry-run: what, where, and nothing written or stopped', async (t) => {
    t.equal(await active(), 'active');
    const started = await sinceActive();
    const before = await state();
    const file = '/srv/dry.sysctr-backup';
    const r = await json(t, ['backup', '--dry-run', name, '-o', file]);
    t.match(r.json, { changed: true, dryRun: true, name, file, volumes: ['data'] });
    t.match(r.stderr, `would stop ${name}.service, archive data`, 'the plan, on stderr under --json');
    t.equal(await state(), before, 'no file written, the state root as it was');
    t.equal(await sinceActive(), started, 'the service was not stopped');
    t.equal((await m.exec(['test', '-e', file])).exitCode, 1);
  });

  t.test('restore --dry-run: checked in full, the same refusals, nothing changed', async (t) => {
    const file = '/srv/real.sysctr-backup';
    t.match((await json(t, ['backup', name, '-o', file])).json, { changed: true, file });
    const started = await sinceActive();
    const before = await state();
    const refused = await json(t, ['restore', '--dry-run', file], 1);
    t.match(refused.stderr, 'already has data in', 'data in the way: refused as a restore would');
    t.equal(refused.stdout, '');
    const r = await json(t, ['restore', '--dry-run', '--force', file]);
    t.match(r.json, { changed: true, dryRun: true, name, installed: false, manifest: { name, volumes: [{ name: 'data' }] } });
    t.match(r.stderr, `would put data back into ${name}`);
    const copy = await json(t, ['restore', '--dry-run', '--name', 'dryrun-copy', file]);
    t.match(copy.json, { changed: true, dryRun: true, name: 'dryrun-copy', installed: true });
    t.equal(await state(), before, 'the state root as it was');
    t.equal(await sinceActive(), started, 'the service was not stopped');
    t.equal((await m.exec(['test', '-e', `${root}/dryrun-copy`])).exitCode, 1, 'nothing installed');

    await m.exec(['sh', '-c', `head -c 300 ${file} > /srv/cut.sysctr-backup`]);
    const cut = await json(t, ['restore', '--dry-run', '--force', '/srv/cut.sysctr-backup'], 1);
    t.equal(cut.stdout, '', 'a damaged file: refused, no object');
    t.not(cut.stderr, '');
  });
}

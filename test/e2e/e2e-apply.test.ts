/**
 * sysctr apply in a systemd booted with systemd-nspawn, with real runc (docs/apply.md): a directory
 * of two declarations (JSON and YAML) installs and starts both; again: changed false, exit 0; a
 * changed value, then a changed image, update that one container only; a removed file with --prune
 * uninstalls it, while a container installed by hand is left running.
 */
import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { projectDir } from '../helpers/cli.js';
import { Machine, requireRealSystemd } from '../helpers/nspawn.js';
import { buildImageWithUmoci } from '../helpers/images.js';

if (requireRealSystemd(t)) {
  const m = await Machine.boot();
  t.teardown(() => m.shutdown());
  const layout = path.join(m.scratch, 'layout');
  for (const v of ['v1', 'v2']) await buildImageWithUmoci(path.join(projectDir, `fixtures/images/update-${v}`), layout, v);
  const root = '/var/lib/sysctr-apply';
  const decls = path.join(m.scratch, 'containers.d');
  fs.mkdirSync(decls);
  const ports = { 'apply-a': 8471, 'apply-b': 8472, 'apply-hand': 8473 };
  const declareA = (message: string, v = 'v1') =>
    fs.writeFileSync(path.join(decls, 'apply-a.json'), JSON.stringify({ name: 'apply-a', image: `oci:${layout}:${v}`, values: { PORT: String(ports['apply-a']), MESSAGE: message }, now: true }, null, 2));
  const declareB = () => fs.writeFileSync(path.join(decls, 'apply-b.yaml'), `name: apply-b\nimage: oci:${layout}:v1\nvalues:\n  PORT: "${ports['apply-b']}"\n  MESSAGE: b one\nnow: true\n`);

  type Result = { changed: boolean; dryRun?: boolean; failed: number; containers: Array<{ name: string; status: string; image?: string; previousImage?: string }> };
  const apply = async (t: Test, args: string[] = []): Promise<Result> => {
    const r = await m.sysctr(['apply', '--settle', '1', ...args, decls, '--json'], { SYSCTR_ROOT: root });
    t.equal(r.exitCode, 0, r.exitCode === 0 ? `apply ${args.join(' ')}` : `apply ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout) as Result;
  };
  const statuses = (r: Result) => Object.fromEntries(r.containers.map((c) => [c.name, c.status]));
  /** the state page run.sh writes: version, message, extra */
  const state = async (name: keyof typeof ports, want?: RegExp) => {
    let last = '';
    for (let i = 0; i < 40; i++) {
      const r = await m.exec(['busybox', 'wget', '-qO-', `http://127.0.0.1:${ports[name]}/state.txt`]);
      last = r.exitCode === 0 ? r.stdout.trim() : '';
      if (last && (!want || want.test(last))) return last;
      await new Promise((res) => setTimeout(res, 250));
    }
    return last;
  };
  const active = async (name: string) => (await m.exec(['systemctl', 'is-active', `${name}.service`])).stdout.trim();
  const link = async (name: string) => (await m.exec(['readlink', `${root}/${name}`])).stdout.trim();

  t.before(async () => {
    // a container installed by hand, beside the declared ones
    const r = await m.sysctr(['install', '--name', 'apply-hand', '--set', `PORT=${ports['apply-hand']}`, '--now', '--settle', '1', `oci:${layout}:v1`], { SYSCTR_ROOT: root });
    if (r.exitCode !== 0) throw new Error(`install apply-hand: ${r.stderr}`);
  });

  t.test('two declarations: installed and started, then unchanged', async (t) => {
    declareA('a one');
    declareB();
    const dry = await apply(t, ['--dry-run']);
    t.match(dry, { changed: true, dryRun: true });
    t.same(statuses(dry), { 'apply-a': 'installed', 'apply-b': 'installed' });
    t.equal((await m.exec(['test', '-e', `${root}/apply-a`])).exitCode, 1, 'the dry run installed nothing');

    const first = await apply(t);
    t.match(first, { changed: true, failed: 0 });
    t.same(statuses(first), { 'apply-a': 'installed', 'apply-b': 'installed' });
    t.equal(await active('apply-a'), 'active');
    t.equal(await active('apply-b'), 'active');
    t.match(await state('apply-a'), /^version=v1 message=a one /);
    t.match(await state('apply-b'), /^version=v1 message=b one /);
    const info = JSON.parse((await m.exec(['cat', `${root}/apply-a/info`])).stdout) as { managedBy?: string };
    t.equal(info.managedBy, 'apply', 'the deployment says apply installed it');

    const again = await apply(t);
    t.match(again, { changed: false, failed: 0 });
    t.same(statuses(again), { 'apply-a': 'unchanged', 'apply-b': 'unchanged' });
    t.equal(await link('apply-a'), 'apply-a.0', 'not redeployed');
  });

  t.test('a changed value, then a changed image: that container is updated, the other is not', async (t) => {
    declareA('a two');
    const dry = await apply(t, ['--dry-run']);
    t.same(statuses(dry), { 'apply-a': 'updated', 'apply-b': 'unchanged' });
    t.equal(await link('apply-a'), 'apply-a.0', 'the dry run switched nothing');

    const r = await apply(t);
    t.match(r, { changed: true });
    t.same(statuses(r), { 'apply-a': 'updated', 'apply-b': 'unchanged' });
    t.equal(await link('apply-a'), 'apply-a.1');
    t.match(await state('apply-a', /message=a two/), /^version=v1 message=a two /);

    declareA('a two', 'v2');
    const img = await apply(t);
    t.match(img.containers, [{ name: 'apply-a', status: 'updated', image: 'localhost/layout:v2', previousImage: 'localhost/layout:v1' }, { name: 'apply-b', status: 'unchanged' }]);
    t.match(await state('apply-a', /version=v2/), /^version=v2 message=a two /);
    t.equal(await link('apply-b'), 'apply-b.0');
    t.match(await apply(t), { changed: false });
  });

  t.test('a removed file with --prune: uninstalled; the hand-installed container stays', async (t) => {
    fs.rmSync(path.join(decls, 'apply-b.yaml'));
    t.same(statuses(await apply(t)), { 'apply-a': 'unchanged' }, 'without --prune nothing is removed');
    t.equal(await active('apply-b'), 'active');

    const r = await apply(t, ['--prune']);
    t.match(r, { changed: true });
    t.same(statuses(r), { 'apply-a': 'unchanged', 'apply-b': 'removed' });
    t.equal((await m.exec(['test', '-e', '/etc/systemd/system/apply-b.service'])).exitCode, 1, 'its unit is gone');
    t.equal((await m.exec(['test', '-e', `${root}/apply-b`])).exitCode, 1, 'its deployment is gone');
    t.not(await active('apply-b'), 'active');
    t.equal(await active('apply-hand'), 'active', 'the container installed by hand runs on');
    t.equal(await link('apply-hand'), 'apply-hand.0');
    t.match(await apply(t, ['--prune']), { changed: false });
  });
}

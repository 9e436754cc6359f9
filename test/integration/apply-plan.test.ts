/**
 * sysctr apply against a real store, through the built CLI (docs/apply.md), with no systemd: a dry
 * run's plan (installed, updated, unchanged, removed; an image not yet pulled) changes nothing in
 * the state root, the unit and tmpfiles dirs; an invalid file refuses the whole directory and
 * changes nothing; one container that fails does not stop the others and the exit is 1. Containers
 * are installed here with lib/deploy/install.ts and systemctl recorded (RecordingRunner); the
 * booted-systemd version is test/e2e/e2e-apply.test.ts.
 */
import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { RecordingRunner } from '../../lib/proc.js';
import { resolvePaths } from '../../lib/paths.js';
import { install } from '../../lib/deploy/install.js';
import { buildImage, entriesFromDir, writeOciLayout } from '../helpers/images.js';
import { projectDir, sysctr } from '../helpers/cli.js';
import { requirePrereqs } from '../helpers/prereq.js';
import { describeTree, diffTrees } from '../helpers/tree-compare.js';

// the store keeps owners (fchown): root only
if (!requirePrereqs(t, [])) process.exit(0);

const dir = t.testdir({});
const layout = path.join(dir, 'layout');
const root = path.join(dir, 'root');
const units = path.join(dir, 'units');
const tmpfiles = path.join(dir, 'tmpfiles');
const hostRoot = path.join(dir, 'hostroot');
const decls = path.join(dir, 'containers.d');
const policy = path.join(dir, 'policy.json');
const env = { SYSCTR_ROOT: root, SYSCTR_UNIT_DIR: units, SYSCTR_TMPFILES_DIR: tmpfiles, SYSCTR_HOST_ROOT: hostRoot };
const host = ['--signature-policy', policy];
fs.writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
fs.mkdirSync(decls);
for (const d of [units, tmpfiles, hostRoot]) fs.mkdirSync(d);
const entries = entriesFromDir(path.join(projectDir, 'fixtures/lint/clean'), 'exports/');
const v1 = buildImage({ layers: [{ entries }], config: { Cmd: ['/usr/bin/run.sh'] } });
const v2 = buildImage({ layers: [{ entries: [...entries, { path: 'v2', content: '2' }] }], config: { Cmd: ['/usr/bin/run.sh'] } });
writeOciLayout(layout, [{ image: v1, ref: 'v1' }, { image: v2, ref: 'v2' }]);

const declare = (file: string, text: string) => fs.writeFileSync(path.join(decls, file), text);
/** everything apply could change: the state root (store included), units, tmpfiles confs, host files */
const state = () => new Map([root, units, tmpfiles, hostRoot].flatMap((d) => [...describeTree(d)].map(([p, v]) => [`${d}/${p}`, v] as [string, string])));

async function apply(t: Test, args: string[], exitCode = 0) {
  const r = await sysctr(['apply', ...host, ...args, '--json'], { env });
  t.equal(r.exitCode, exitCode, r.exitCode === exitCode ? `apply ${args.join(' ')}: exit ${exitCode}` : `apply ${args.join(' ')}: ${r.stderr}`);
  return { ...r, json: r.stdout ? (JSON.parse(r.stdout) as { changed: boolean; dryRun?: boolean; containers: Array<Record<string, unknown>>; failed: number }) : undefined };
}

t.before(async () => {
  const p = await sysctr(['pull', ...host, `oci:${layout}:v1`], { env });
  if (p.exitCode !== 0) throw new Error(p.stderr);
  const paths = resolvePaths({ root, unitDir: units, tmpfilesDir: tmpfiles, hostRoot, signaturePolicy: policy });
  const ctx = { paths, runner: new RecordingRunner(), dryRun: false, out: () => {}, env: {} };
  // one as apply would have installed it, one by hand
  await install(ctx, { image: 'localhost/layout:v1', name: 'apply-old', set: ['PORT=9101'], managedBy: 'apply' });
  await install(ctx, { image: 'localhost/layout:v1', name: 'apply-hand', set: ['PORT=9102'] });
  await install(ctx, { image: 'localhost/layout:v1', name: 'apply-same', set: ['PORT=9103'], managedBy: 'apply' });
});

t.test('a dry run says what would change, and changes nothing', async (t) => {
  declare('same.json', JSON.stringify({ name: 'apply-same', image: `oci:${layout}:v1`, values: { PORT: '9103' } }));
  declare('new.yaml', `name: apply-new\nimage: oci:${layout}:v1\nvalues:\n  PORT: "9104"\n`);
  declare('later.json', JSON.stringify({ name: 'apply-later', image: `oci:${layout}:v2` }));
  declare('hand.json', JSON.stringify({ name: 'apply-hand', image: `oci:${layout}:v1`, values: { PORT: '9200' } }));
  const before = state();
  const r = await apply(t, ['--dry-run', '--prune', decls]);
  t.same(diffTrees(before, state()), [], 'the state root, units, tmpfiles confs and host files are as they were');
  t.match(r.json, { changed: true, dryRun: true, failed: 0 });
  const by = Object.fromEntries(r.json!.containers.map((c) => [c.name, c]));
  t.match(by['apply-same'], { status: 'unchanged', image: 'localhost/layout:v1', imageId: v1.config.digest });
  t.match(by['apply-new'], { status: 'installed', image: 'localhost/layout:v1', file: path.join(decls, 'new.yaml') });
  t.match(by['apply-later'], { status: 'installed', wouldPull: true, image: 'localhost/layout:v2', imageId: v2.config.digest }, 'not in the store: a dry run reads the source, stores nothing');
  t.match(by['apply-hand'], { status: 'updated', previousImage: 'localhost/layout:v1' }, 'a declared value differs from the hand-installed one');
  t.match(by['apply-old'], { status: 'removed' }, 'installed by apply, declared no more: --prune removes it');
  t.equal(r.json!.containers.length, 5);
  t.match(r.stderr, /would/, 'the plan went to stderr');
});

t.test('prune never plans to remove a container installed by hand', async (t) => {
  for (const f of fs.readdirSync(decls)) fs.rmSync(path.join(decls, f));
  declare('same.json', JSON.stringify({ name: 'apply-same', image: `oci:${layout}:v1`, values: { PORT: '9103' } }));
  const r = await apply(t, ['--dry-run', '--prune', decls]);
  t.same(r.json!.containers.map((c) => `${String(c.name)} ${String(c.status)}`), ['apply-same unchanged', 'apply-old removed']);
  const none = await apply(t, ['--dry-run', decls]);
  t.same(none.json!.containers.map((c) => `${String(c.name)} ${String(c.status)}`), ['apply-same unchanged'], 'without --prune nothing is removed');
  t.equal(none.json!.changed, false);
});

t.test('an invalid file: refused with its location, nothing applied', async (t) => {
  declare('new.yaml', `name: apply-new\nimage: oci:${layout}:v1\nvalues:\n  PORT: 9104\n`);
  declare('z.json', JSON.stringify({ name: 'apply-same', image: `oci:${layout}:v2` }));
  const before = state();
  const r = await apply(t, ['--prune', decls], 1);
  t.equal(r.stdout, '', 'no object: nothing was done');
  t.match(r.stderr, `${path.join(decls, 'new.yaml')}:4:9: values.PORT must be string`);
  t.match(r.stderr, `${path.join(decls, 'z.json')}:1:9: container "apply-same" is declared in ${path.join(decls, 'same.json')} already`);
  t.match(r.stderr, 'nothing was applied');
  t.same(diffTrees(before, state()), [], 'nothing changed, not even a pull');
  fs.rmSync(path.join(decls, 'new.yaml'));
  fs.rmSync(path.join(decls, 'z.json'));
});

t.test('one container that fails does not stop the others; exit 1', async (t) => {
  declare('broken.json', JSON.stringify({ name: 'apply-broken', image: `oci:${path.join(dir, 'no-such-layout')}:v1` }));
  const r = await apply(t, [decls], 1);
  t.match(r.json, { changed: false, failed: 1 });
  t.match(r.json!.containers, [{ name: 'apply-broken', status: 'failed', error: /no-such-layout/ }, { name: 'apply-same', status: 'unchanged' }]);
  t.match(r.stderr, /sysctr: apply-broken: /);
});

/**
 * --dry-run on the store and policy commands (docs/json-output.md): pull, images tag, delete and
 * prune, images update, trust add and default print the object the command would print, with dryRun: true, and
 * change nothing: the state root (store included) and the policy files are compared, file by file,
 * before and after. Then the real command gives the answer the dry run predicted.
 */
import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { buildImage, entriesFromDir, writeOciLayout } from '../helpers/images.js';
import { projectDir, sysctr } from '../helpers/cli.js';
import { requirePrereqs } from '../helpers/prereq.js';
import { describeTree, diffTrees } from '../helpers/tree-compare.js';

// the store keeps owners (fchown): root only
if (!requirePrereqs(t, [])) process.exit(0);

const dir = t.testdir({ etc: {} });
const layout = path.join(dir, 'layout');
const root = path.join(dir, 'root');
const etc = path.join(dir, 'etc');
const policy = path.join(etc, 'policy.json');
const registriesD = path.join(etc, 'registries.d');
const host = ['--signature-policy', policy, '--registries.d', registriesD];
const env = { SYSCTR_ROOT: root, SYSCTR_UNIT_DIR: path.join(dir, 'units'), SYSCTR_TMPFILES_DIR: path.join(dir, 'tmpfiles') };
fs.writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
fs.mkdirSync(registriesD);
const entries = entriesFromDir(path.join(projectDir, 'fixtures/lint/clean'), 'exports/');
const v1 = buildImage({ layers: [{ entries }], config: { Cmd: ['/usr/bin/run.sh'] } });
const v2 = buildImage({ layers: [{ entries }, { entries: [{ path: 'v2', content: '2' }] }], config: { Cmd: ['/usr/bin/run.sh'] } });
writeOciLayout(layout, [{ image: v1, ref: 'v1' }, { image: v2, ref: 'v2' }]);

const state = () => new Map([root, etc].flatMap((d) => [...describeTree(d)].map(([p, v]) => [`${d}/${p}`, v] as [string, string])));

async function json(t: Test, args: string[]): Promise<Record<string, unknown>> {
  const r = await sysctr([...args.slice(0, args[0] === 'pull' ? 1 : 2), ...host, ...args.slice(args[0] === 'pull' ? 1 : 2), '--json'], { env });
  t.equal(r.exitCode, 0, r.exitCode === 0 ? args.join(' ') : `${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** the dry run changes nothing, and the command itself then answers the same (but dryRun) */
async function same(t: Test, args: string[], want: Record<string, unknown>) {
  const before = state();
  const dry = await json(t, [...args, '--dry-run']);
  t.same(diffTrees(before, state()), [], `${args.join(' ')} --dry-run changed nothing`);
  t.match(dry, { ...want, dryRun: true });
  const real = await json(t, args);
  t.notOk('dryRun' in real, 'the real run says no dryRun');
  const { dryRun: _, ...rest } = dry;
  t.same(real, rest, 'the real run answers what the dry run said');
}

t.before(async () => {
  const p = await sysctr(['pull', ...host, `oci:${layout}:v1`], { env });
  if (p.exitCode !== 0) throw new Error(p.stderr);
});

t.test('pull: the layers it would fetch; an image that is there: unchanged', async (t) => {
  await same(t, ['pull', `oci:${layout}:v2`], { changed: true, image: 'localhost/layout:v2', id: v2.config.digest, layers: 2, fetched: 1 });
  const again = await json(t, ['pull', `oci:${layout}:v2`, '--dry-run']);
  t.match(again, { changed: false, dryRun: true, fetched: 0 });
});

t.test('images tag, delete, prune', async (t) => {
  await same(t, ['images', 'tag', 'localhost/layout:v2', 'localhost/dry:1'], { changed: true, image: 'localhost/dry:1', id: v2.config.digest });
  t.match(await json(t, ['images', 'tag', 'localhost/layout:v2', 'localhost/dry:1', '--dry-run']), { changed: false, dryRun: true });
  // v2 is still named localhost/dry:1: deleting layout:v2 frees nothing
  await same(t, ['images', 'delete', 'localhost/layout:v2'], { changed: true, removed: ['localhost/layout:v2'], freed: { layers: 0, objects: 0, blobs: 0 } });
  // the last name of v2: its own layer, objects and blobs go; v1's shared layer stays
  const dry = await json(t, ['images', 'delete', 'localhost/dry:1', '--dry-run']);
  t.match(dry, { changed: true, dryRun: true, removed: ['localhost/dry:1'], freed: { layers: 1, blobs: 2 } });
  t.ok((dry.freed as { objects: number; bytes: number }).objects >= 1 && (dry.freed as { bytes: number }).bytes >= 1, 'objects and bytes it would free');
  await same(t, ['images', 'delete', 'localhost/dry:1'], { changed: true });
  await same(t, ['images', 'prune'], { changed: false, images: 0, layers: 0 });
});

t.test('trust add, trust default', async (t) => {
  await same(t, ['trust', 'add', 'registry.example.org', '--type', 'reject'], { changed: true, scope: 'registry.example.org', type: 'reject', policy });
  t.match(await json(t, ['trust', 'add', 'registry.example.org', '--type', 'reject', '--dry-run']), { changed: false, dryRun: true });
  await same(t, ['trust', 'add', 'registry.example.org/team', '--type', 'accept', '--lookaside', 'https://sigs.example.org'], { changed: true, registriesFile: path.join(registriesD, 'sysctr-registry.example.org_team.yaml') });
  await same(t, ['trust', 'default', 'reject'], { changed: true, default: 'reject' });
  t.match(await json(t, ['trust', 'default', 'reject', '--dry-run']), { changed: false, dryRun: true });
});

t.test('images update: the tag moved in its source', async (t) => {
  fs.writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] })); // the test above made it reject
  writeOciLayout(layout, [{ image: v2, ref: 'v1' }]);
  await same(t, ['images', 'update', 'localhost/layout:v1'], { changed: true, images: [{ image: 'localhost/layout:v1', changed: true, previousId: v1.config.digest, id: v2.config.digest, fetched: 1 }] });
  t.match(await json(t, ['images', 'update', 'localhost/layout:v1', '--dry-run']), { changed: false, dryRun: true });
});

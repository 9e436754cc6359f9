/**
 * --json on the commands that change state (docs/json-output.md), through the built CLI: one JSON
 * object on stdout with changed true, the same command again gives changed false and exit 0;
 * --dry-run gives the object with dryRun and changes nothing; a failure keeps its exit code and its
 * message on stderr, with nothing on stdout. systemctl is recorded, not run, where an installed
 * container is needed (RecordingRunner); the booted-systemd version is e2e-json-output.
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

// the store keeps owners (fchown): root only
if (!requirePrereqs(t, [])) process.exit(0);

const dir = t.testdir({});
const layout = path.join(dir, 'layout');
const root = path.join(dir, 'root');
const units = path.join(dir, 'units');
const tmpfiles = path.join(dir, 'tmpfiles');
const policy = path.join(dir, 'policy.json');
const host = ['--signature-policy', policy];
const env = { SYSCTR_ROOT: root, SYSCTR_UNIT_DIR: units, SYSCTR_TMPFILES_DIR: tmpfiles, SYSCTR_HOST_ROOT: path.join(dir, 'hostroot') };
fs.writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
const entries = entriesFromDir(path.join(projectDir, 'fixtures/lint/clean'), 'exports/');
const v1 = buildImage({ layers: [{ entries }], config: { Cmd: ['/usr/bin/run.sh'] } });
const v2 = buildImage({ layers: [{ entries: [...entries, { path: 'v2', content: '2' }] }], config: { Cmd: ['/usr/bin/run.sh'] } });
writeOciLayout(layout, [{ image: v1, ref: 'v1' }, { image: v2, ref: 'v2' }]);

/** runs sysctr and parses its stdout, which must be exactly one JSON object */
async function json(t: Test, args: string[], exitCode = 0): Promise<Record<string, unknown>> {
  const r = await sysctr([...args, '--json'], { env });
  t.equal(r.exitCode, exitCode, r.exitCode === exitCode ? `${args.join(' ')}: exit ${exitCode}` : `${args.join(' ')}: ${r.stderr}`);
  let v: Record<string, unknown> = {};
  t.doesNotThrow(() => (v = JSON.parse(r.stdout) as Record<string, unknown>), `${args[0]}: stdout is one JSON object: ${r.stdout}`);
  return v;
}

t.test('pull: changed, then up to date', async (t) => {
  const first = await json(t, ['pull', ...host, `oci:${layout}:v1`]);
  t.match(first, { changed: true, image: 'localhost/layout:v1', id: v1.config.digest, fetched: 1, layers: 1 });
  t.match(first.digest, /^sha256:[0-9a-f]{64}$/);
  const again = await json(t, ['pull', ...host, `oci:${layout}:v1`]);
  t.match(again, { changed: false, image: 'localhost/layout:v1', id: v1.config.digest, fetched: 0 });
});

t.test('images tag: a new name, then the same', async (t) => {
  t.match(await json(t, ['images', 'tag', ...host, 'localhost/layout:v1', 'localhost/json-tagged:1']), { changed: true, image: 'localhost/json-tagged:1', id: v1.config.digest });
  t.match(await json(t, ['images', 'tag', ...host, 'localhost/layout:v1', 'localhost/json-tagged:1']), { changed: false, id: v1.config.digest });
  const bad = await sysctr(['images', 'tag', ...host, `oci:${layout}:v2`, 'localhost/json-tagged:1', '--json'], { env });
  t.equal(bad.exitCode, 1, 'a source is not an image in the store');
  t.equal(bad.stdout, '', 'no object on failure');
  t.match(bad.stderr, 'is not in the store');
});

t.test('images delete and prune', async (t) => {
  t.match(await json(t, ['images', 'delete', ...host, 'localhost/json-tagged:1']), { changed: true, removed: ['localhost/json-tagged:1'] });
  const r = await sysctr(['images', 'delete', ...host, 'localhost/json-tagged:1', '--json'], { env });
  t.equal(r.exitCode, 1, 'deleting a missing image is an error');
  t.equal(r.stdout, '', 'no object on failure');
  t.match(r.stderr, 'image localhost/json-tagged:1 is not in the store');
  t.match(await json(t, ['images', 'prune', ...host]), { changed: false, images: 0, layers: 0, objects: 0, blobs: 0 }, 'nothing unused: v1 keeps its layer');
});

t.test('trust default and trust add', async (t) => {
  t.match(await json(t, ['trust', 'default', ...host, 'reject']), { changed: true, policy, default: 'reject' });
  const written = fs.readFileSync(policy, 'utf8');
  t.match(await json(t, ['trust', 'default', ...host, 'reject']), { changed: false });
  t.equal(fs.readFileSync(policy, 'utf8'), written, 'the policy is left as it was');
  t.match(await json(t, ['trust', 'add', ...host, 'localhost', '--type', 'accept']), { changed: true, scope: 'localhost', type: 'accept' });
  t.match(await json(t, ['trust', 'add', ...host, 'localhost', '--type', 'accept']), { changed: false });
  t.match(await json(t, ['trust', 'default', ...host, 'accept']), { changed: true, default: 'accept' }, 'back to accepting the oci: images below');
});

t.test('install --dry-run, uninstall of a missing container', async (t) => {
  const plan = await json(t, ['install', ...host, '--dry-run', '--name', 'json-dry', '--set', 'PORT=9001', 'localhost/layout:v1']);
  t.match(plan, { changed: true, dryRun: true, name: 'json-dry', image: 'localhost/layout:v1', imageId: v1.config.digest, unit: 'json-dry.service', values: { PORT: '9001' } });
  t.notOk(fs.existsSync(path.join(root, 'json-dry')), 'nothing installed');
  t.notOk(fs.existsSync(path.join(units, 'json-dry.service')), 'no unit written');
  t.match(await json(t, ['uninstall', ...host, 'json-dry']), { changed: false, name: 'json-dry' });
  t.match(await json(t, ['uninstall', ...host, '--dry-run', 'json-dry']), { changed: false, dryRun: true });
});

t.test('an installed container: install again, values, uninstall --dry-run', async (t) => {
  const paths = resolvePaths({ root, unitDir: units, tmpfilesDir: tmpfiles, hostRoot: path.join(dir, 'hostroot'), signaturePolicy: policy });
  await install({ paths, runner: new RecordingRunner(), dryRun: false, out: () => {}, env: {} }, { image: 'localhost/layout:v1', name: 'json-inst', set: ['PORT=9002'] });
  const again = await json(t, ['install', ...host, '--dry-run', '--name', 'json-inst', '--set', 'PORT=9002', 'localhost/layout:v1']);
  t.match(again, { changed: false, dryRun: true, name: 'json-inst', deployment: path.join(root, 'json-inst.0'), imageId: v1.config.digest, values: { PORT: '9002' } });
  const other = await sysctr(['install', ...host, '--dry-run', '--name', 'json-inst', '--set', 'PORT=9003', 'localhost/layout:v1', '--json'], { env });
  t.equal(other.exitCode, 1, 'other values: an error, not "no change"');
  t.equal(other.stdout, '');
  t.match(other.stderr, 'json-inst is already installed from localhost/layout:v1 with other values (PORT=9002)');
  t.match(other.stderr, 'sysctr containers update --set PORT=9003 json-inst');
  t.match(await json(t, ['uninstall', ...host, '--dry-run', 'json-inst']), { changed: true, dryRun: true, name: 'json-inst' });
  t.ok(fs.existsSync(path.join(units, 'json-inst.service')), 'the dry run removed nothing');
});

t.test('start of a container that is not installed: exit 1, message on stderr, nothing on stdout', async (t) => {
  const r = await sysctr(['start', ...host, 'json-missing', '--json'], { env });
  t.equal(r.exitCode, 1);
  t.equal(r.stdout, '');
  t.match(r.stderr, 'json-missing is not installed');
});

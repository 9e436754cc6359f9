/**
 * sysctr auto-update --dry-run against a real docker-registry on loopback, behind a counting proxy
 * (test/helpers/registry-proxy.ts), through the built CLI: up-to-date, would-update after a push
 * under the same tag, a digest-pinned container skipped, a multi-platform index followed for this
 * host's platform only, the local policy; every resolve is manifest requests only (no blob) and
 * changes nothing in the store. The containers are installed with systemctl recorded, not run
 * (RecordingRunner), so the timer files install writes are checked here as files; running the
 * updates and the timer in a booted systemd is test/e2e/e2e-auto-update.test.ts.
 */
import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { RecordingRunner } from '../../lib/proc.js';
import { resolvePaths } from '../../lib/paths.js';
import { install } from '../../lib/deploy/install.js';
import { update } from '../../lib/deploy/update.js';
import { uninstall } from '../../lib/deploy/uninstall.js';
import { buildImage, entriesFromDir, writeOciIndexLayout, writeOciLayout, type BuiltImage } from '../helpers/images.js';
import { projectDir, sysctr } from '../helpers/cli.js';
import { pushLayout, registryTestsCanRun, startRegistry } from '../helpers/registry.js';
import { startProxy } from '../helpers/registry-proxy.js';

if (!(await registryTestsCanRun(t, ['docker-registry', 'skopeo']))) process.exit(0);

const dir = t.testdir({});
const root = path.join(dir, 'root');
const units = path.join(dir, 'units');
const policyFile = path.join(dir, 'policy.json');
const regConf = path.join(dir, 'registries.conf');
fs.writeFileSync(policyFile, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
fs.writeFileSync(regConf, '');
const env = { SYSCTR_ROOT: root, SYSCTR_UNIT_DIR: units, SYSCTR_TMPFILES_DIR: path.join(dir, 'tmpfiles'), SYSCTR_HOST_ROOT: path.join(dir, 'hostroot') };
const globals = ['--signature-policy', policyFile, '--registries-conf', regConf];
const paths = resolvePaths({ root, unitDir: units, tmpfilesDir: env.SYSCTR_TMPFILES_DIR, hostRoot: env.SYSCTR_HOST_ROOT, signaturePolicy: policyFile, registriesConf: regConf });
const ctx = () => ({ paths, runner: new RecordingRunner(), dryRun: false, out: () => {}, env: {} });

const registry = await startRegistry();
const proxy = await startProxy({ target: registry.port });
t.teardown(async () => {
  await proxy.stop();
  await registry.stop();
});

const entries = entriesFromDir(path.join(projectDir, 'fixtures/lint/clean'), 'exports/');
const version = (v: string, arch = 'amd64'): BuiltImage =>
  buildImage({ layers: [{ entries: [...entries, { path: 'version', content: `${v} ${arch}\n` }] }], config: { Cmd: ['/usr/bin/run.sh'] }, architecture: arch });

async function push(img: BuiltImage, repoTag: string): Promise<void> {
  const layout = fs.mkdtempSync(path.join(dir, 'layout-'));
  writeOciLayout(layout, [{ image: img, ref: 'x' }]);
  await pushLayout(layout, 'x', `${registry.host}/${repoTag}`);
}

async function pushIndex(imgs: Array<[BuiltImage, string]>, repoTag: string): Promise<void> {
  const layout = fs.mkdtempSync(path.join(dir, 'index-'));
  writeOciIndexLayout(layout, 'x', imgs.map(([image, architecture]) => ({ image, platform: { os: 'linux', architecture } })));
  await pushLayout(layout, 'x', `${registry.host}/${repoTag}`, { all: true });
}

async function cli(t: Test, args: string[], exitCode = 0): Promise<{ changed: boolean; dryRun?: boolean; containers: Array<Record<string, unknown>> }> {
  const r = await sysctr([...args, ...globals], { env });
  t.equal(r.exitCode, exitCode, `${args.join(' ')}: exit ${exitCode}${r.exitCode === exitCode ? '' : `: ${r.stderr}`}`);
  return JSON.parse(r.stdout);
}
const byName = (o: { containers: Array<Record<string, unknown>> }) => Object.fromEntries(o.containers.map((c) => [c.name, c]));
const blobRequests = (from: number) => proxy.requests.slice(from).filter((q) => q.url.includes('/blobs/'));
const storeImages = () => fs.readFileSync(path.join(root, 'store/images.json'), 'utf8');

const v1 = version('1');
const multi1 = version('1'), multiArm1 = version('1', 'arm64');
await push(v1, 'au/web:1');
await pushIndex([[multi1, 'amd64'], [multiArm1, 'arm64']], 'au/multi:1');

t.test('installed with policies: registry (tag and index), pinned, local, none', async (t) => {
  const pull = async (src: string) => {
    const r = await sysctr(['pull', '--tls-verify=false', ...globals, src], { env });
    t.equal(r.exitCode, 0, `pull ${src}: ${r.stderr}`);
  };
  await pull(`docker://${proxy.host}/au/web:1`);
  await pull(`docker://${proxy.host}/au/web@${v1.manifest.digest}`);
  await pull(`docker://${proxy.host}/au/multi:1`);
  const reg = `${proxy.host}/au/web:1`;
  await install(ctx(), { image: reg, name: 'au-reg', autoUpdate: 'registry' });
  await install(ctx(), { image: `${proxy.host}/au/web@${v1.manifest.digest}`, name: 'au-pinned', autoUpdate: 'registry' });
  await install(ctx(), { image: `${proxy.host}/au/multi:1`, name: 'au-multi', autoUpdate: 'registry' });
  const tag = await sysctr(['images', 'tag', ...globals, reg, 'localhost/au-local:1'], { env });
  t.equal(tag.exitCode, 0, tag.stderr);
  await install(ctx(), { image: 'localhost/au-local:1', name: 'au-local', autoUpdate: 'local' });
  await install(ctx(), { image: reg, name: 'au-off' });
  const info = JSON.parse(fs.readFileSync(path.join(root, 'au-reg.0/info'), 'utf8'));
  t.equal(info.autoUpdate, 'registry', "the policy is in the deployment's info");
  t.notOk('autoUpdate' in JSON.parse(fs.readFileSync(path.join(root, 'au-off.0/info'), 'utf8')), 'disabled: no field');

  // the first install with a policy wrote the timer (systemctl recorded, not run: the booted test runs it)
  const service = fs.readFileSync(path.join(units, 'sysctr-auto-update.service'), 'utf8');
  const timer = fs.readFileSync(path.join(units, 'sysctr-auto-update.timer'), 'utf8');
  t.match(service, /^# Managed by sysctr/, "the service carries sysctr's header");
  t.match(service, /\nType=oneshot\n/);
  t.match(service, `\nExecStart=${process.execPath} ${path.join(projectDir, 'dist/cli/main.js')} auto-update --root ${root} --unit-dir ${units} `, 'this node and this sysctr by absolute paths, with its state root');
  t.match(service, `--signature-policy ${policyFile} --registries-conf ${regConf}`, 'and the policy files it was given');
  for (const l of ['OnCalendar=daily', 'RandomizedDelaySec=1h', 'Persistent=true', 'WantedBy=timers.target']) t.match(timer, `\n${l}\n`, l);

  const again = await sysctr(['install', ...globals, '--auto-update=local', '--name', 'au-reg', reg], { env });
  t.equal(again.exitCode, 1, 'installing again with another policy is refused');
  t.match(again.stderr, 'au-reg is already installed from');
  t.match(again.stderr, 'hint: to change it: sysctr containers update --auto-update=local au-reg');
  const bad = await sysctr(['install', ...globals, '--auto-update=sometimes', '--name', 'au-bad', reg], { env });
  t.equal(bad.exitCode, 2, 'an unknown policy is a usage error');
  t.match(bad.stderr, 'sometimes');
  t.notOk(fs.existsSync(path.join(root, 'au-bad')), 'nothing installed');

  const list = await sysctr(['containers', 'list', '--all', '--json'], { env });
  const rows = Object.fromEntries((JSON.parse(list.stdout) as Array<{ name: string; autoUpdate: string }>).map((r) => [r.name, r.autoUpdate]));
  t.same(rows, { 'au-local': 'local', 'au-multi': 'registry', 'au-off': 'disabled', 'au-pinned': 'registry', 'au-reg': 'registry' }, 'containers list --json shows each policy');
});

t.test('dry run, nothing pushed: up to date, pinned skipped; manifests only', async (t) => {
  const before = proxy.requests.length;
  const r = await cli(t, ['auto-update', '--dry-run', '--json', '--tls-verify=false']);
  const c = byName(r);
  t.same(Object.keys(c).sort(), ['au-local', 'au-multi', 'au-pinned', 'au-reg'], 'the containers with a policy, not au-off');
  t.equal(r.changed, false);
  t.equal(r.dryRun, true);
  t.match(c['au-reg'], { status: 'up-to-date', changed: false, policy: 'registry', oldDigest: v1.manifest.digest, newDigest: v1.manifest.digest, oldImageId: v1.config.digest });
  t.match(c['au-multi'], { status: 'up-to-date', oldDigest: multi1.manifest.digest }, "the index's amd64 child is what it runs");
  t.match(c['au-pinned'], { status: 'skipped', reason: /pinned by digest/ });
  t.match(c['au-local'], { status: 'up-to-date', policy: 'local' });
  t.same(blobRequests(before), [], 'no blob requested');
  const asked = proxy.requests.slice(before).filter((q) => q.url !== '/v2/');
  t.ok(asked.length >= 3 && asked.every((q) => q.method === 'GET' && /\/manifests\//.test(q.url)), `manifest requests only: ${asked.map((q) => q.url).join(' ')}`);
  t.equal(asked.filter((q) => q.url.includes('/au/web/')).length, 1, 'one request for a plain tag');
  t.equal(asked.filter((q) => q.url.includes('/au/multi/')).length, 2, 'two for an index (the index, then the amd64 child)');
});

t.test('a new version under the same tag: would-update, nothing pulled', async (t) => {
  const v2 = version('2');
  await push(v2, 'au/web:1');
  // only the arm64 image of the index changes: this amd64 host has nothing to do
  await pushIndex([[multi1, 'amd64'], [version('2', 'arm64'), 'arm64']], 'au/multi:1');
  const images = storeImages();
  const before = proxy.requests.length;
  const r = await cli(t, ['auto-update', '--dry-run', '--json', '--tls-verify=false']);
  const c = byName(r);
  t.equal(r.changed, true, 'changed: something would be updated');
  t.match(c['au-reg'], { status: 'would-update', changed: true, oldDigest: v1.manifest.digest, newDigest: v2.manifest.digest, oldImageId: v1.config.digest });
  t.match(c['au-multi'], { status: 'up-to-date' }, 'another platform changed, not this one');
  t.match(c['au-local'], { status: 'up-to-date' }, 'local: the store has not changed');
  t.same(blobRequests(before), [], 'no blob requested');
  t.equal(storeImages(), images, 'the store is as it was');
  t.notOk(fs.existsSync(path.join(root, 'store/blobs/sha256', v2.config.digest.slice(7))), "v2's config was not fetched");
  t.equal(fs.readlinkSync(path.join(root, 'au-reg')), 'au-reg.0', 'the deployment is as it was');

  const text = await sysctr(['auto-update', '--dry-run', '--tls-verify=false', ...globals, 'au-reg', 'au-off'], { env });
  t.equal(text.exitCode, 0, text.stderr);
  t.match(text.stdout, `au-reg: would-update (${proxy.host}/au/web:1, ${v1.manifest.digest.slice(7, 19)} -> ${v2.manifest.digest.slice(7, 19)})`);
  t.match(text.stdout, 'au-off: skipped', 'a container named without a policy is skipped, said so');
});

t.test('local: another image under the same name', async (t) => {
  const other = path.join(dir, 'localv3');
  const v3 = version('3');
  writeOciLayout(other, [{ image: v3, ref: 'x' }]);
  const pulled = await sysctr(['pull', ...globals, `oci:${other}:x`], { env });
  t.equal(pulled.exitCode, 0, pulled.stderr);
  const tag = await sysctr(['images', 'tag', ...globals, 'localhost/localv3:x', 'localhost/au-local:1'], { env });
  t.equal(tag.exitCode, 0, tag.stderr);
  const r = await cli(t, ['auto-update', '--dry-run', '--json', '--tls-verify=false', 'au-local']);
  t.match(byName(r)['au-local'], { status: 'would-update', oldImageId: v1.config.digest, newImageId: v3.config.digest });
});

t.test('a registry policy on an image from a layout fails, the others still reported; exit 1', async (t) => {
  const layout = fs.mkdtempSync(path.join(dir, 'oci-'));
  writeOciLayout(layout, [{ image: version('oci'), ref: 'x' }]);
  await install(ctx(), { image: `oci:${layout}:x`, name: 'au-oci', autoUpdate: 'registry' });
  const r = await cli(t, ['auto-update', '--dry-run', '--json', '--tls-verify=false'], 1);
  const c = byName(r);
  t.match(c['au-oci'], { status: 'failed', error: /was not pulled from a registry/, hint: /--auto-update=local au-oci/ });
  t.match(c['au-reg'], { status: 'would-update' }, 'one failure does not stop the others');
});

t.test('policies changed and containers removed: the timer goes with the last policy', async (t) => {
  const r = await update(ctx(), { name: 'au-reg', autoUpdate: 'local' });
  t.match(r, { status: 'up-to-date', policyChanged: true, autoUpdate: 'local' }, 'a policy change alone redeploys nothing');
  t.equal(fs.readlinkSync(path.join(root, 'au-reg')), 'au-reg.0');
  t.equal(JSON.parse(fs.readFileSync(path.join(root, 'au-reg.0/info'), 'utf8')).autoUpdate, 'local', 'info: local');
  const off = await update(ctx(), { name: 'au-reg', autoUpdate: 'disabled' });
  t.match(off, { status: 'up-to-date', policyChanged: true, autoUpdate: 'disabled' });
  t.notOk('autoUpdate' in JSON.parse(fs.readFileSync(path.join(root, 'au-reg.0/info'), 'utf8')), 'info: disabled');
  const dry = await sysctr(['containers', 'update', '--dry-run', '--json', '--auto-update=local', ...globals, 'au-off'], { env });
  t.equal(dry.exitCode, 0, dry.stderr);
  t.match(JSON.parse(dry.stdout), { changed: true, dryRun: true, policyChanged: true, autoUpdate: 'local' });
  t.notOk('autoUpdate' in JSON.parse(fs.readFileSync(path.join(root, 'au-off.0/info'), 'utf8')), '--dry-run changed nothing');
  for (const n of ['au-reg', 'au-pinned', 'au-multi', 'au-local']) {
    await uninstall(ctx(), n);
    t.ok(fs.existsSync(path.join(units, 'sysctr-auto-update.timer')), `after uninstall ${n}: au-oci still has a policy, the timer stays`);
  }
  await update(ctx(), { name: 'au-oci', autoUpdate: 'disabled' });
  t.notOk(fs.existsSync(path.join(units, 'sysctr-auto-update.timer')), 'the last policy set to disabled: timer removed');
  t.notOk(fs.existsSync(path.join(units, 'sysctr-auto-update.service')), 'and its service');
  // someone else's file of that name is never removed
  fs.writeFileSync(path.join(units, 'sysctr-auto-update.timer'), '[Timer]\nOnCalendar=weekly\n');
  const rm = await sysctr(['auto-update', '--remove-timer', '--json', ...globals], { env });
  t.match(JSON.parse(rm.stdout), { changed: false });
  t.match(rm.stderr, 'was not written by sysctr: left as it is');
  t.equal(fs.readFileSync(path.join(units, 'sysctr-auto-update.timer'), 'utf8'), '[Timer]\nOnCalendar=weekly\n', 'left as it was');
  const inst = await sysctr(['auto-update', '--install-timer', ...globals], { env });
  t.equal(inst.exitCode, 1, '--install-timer over a foreign file is refused');
  t.match(inst.stderr, 'sysctr-auto-update.timer already exists and was not written by sysctr');
});

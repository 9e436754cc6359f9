/**
 * A policy can change after a pull: install and `containers update` ask the policy in force then,
 * with the signatures the pull recorded (checked again with gpgv), and refuse an image it does
 * not accept before anything is written. Also: `trust add` writes a policy.json and registries.d
 * that skopeo reads the same way. Real registry, gpg, gpgv and skopeo; systemctl is recorded
 * (RecordingRunner) — the booted-systemd case is test/e2e/e2e-trust.test.ts.
 */
import t from 'tap';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { execa } from 'execa';
import { RecordingRunner } from '../../lib/proc.js';
import { resolvePaths } from '../../lib/paths.js';
import { install } from '../../lib/deploy/install.js';
import { update } from '../../lib/deploy/update.js';
import { backup, restore } from '../../lib/deploy/backup.js';
import { uninstall } from '../../lib/deploy/uninstall.js';
import { sysctr } from '../helpers/cli.js';
import { buildImageLayout, registryTestsCanRun, startRegistry, tempDir } from '../helpers/registry.js';
import { requirePrereqs } from '../helpers/prereq.js';
import { gpgLookasideSetup, pushSigned } from '../helpers/signing.js';

if ((await registryTestsCanRun(t)) && requirePrereqs(t, ['gpg', 'gpgv'])) {
  const work = tempDir('sysctr-trust-enforce-');
  const reg = await startRegistry();
  t.teardown(async () => {
    await reg.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });
  const H = reg.host;
  const { gnupgHome, good, other, lookaside, rd } = await gpgLookasideSetup(work);
  await buildImageLayout(path.join(work, 'a'), 'a', { layers: [{ files: { 'etc/hello': 'image a\n' } }] });
  await buildImageLayout(path.join(work, 'b'), 'b', { layers: [{ files: { 'etc/hello': 'image b\n' } }] });
  await pushSigned(path.join(work, 'a'), 'a', `${H}/enf/app:1`, { gnupgHome, registriesD: rd, fpr: good.fingerprint });
  await pushSigned(path.join(work, 'b'), 'b', `${H}/enf/app:2`, { gnupgHome, registriesD: rd });
  // a data volume: what backup archives and restore puts back
  await buildImageLayout(path.join(work, 'v'), 'v', { layers: [{ files: { 'etc/hello': 'image v\n', 'exports/manifest.json': JSON.stringify({ volumes: { data: { type: 'data', mount: '/var/lib/app' } } }) } }] });
  await pushSigned(path.join(work, 'v'), 'v', `${H}/enf/vol:1`, { gnupgHome, registriesD: rd, fpr: good.fingerprint });
  await pushSigned(path.join(work, 'a'), 'a', `${H}/elsewhere/app:1`, { gnupgHome, registriesD: rd, fpr: good.fingerprint });

  const policyFile = (name: string, body: unknown) => {
    const f = path.join(work, `${name}.json`);
    fs.writeFileSync(f, JSON.stringify(body));
    return f;
  };
  const byGood = policyFile('by-good', { default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: good.publicKey }] });
  const byOther = policyFile('by-other', { default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: other.publicKey }] });
  const acceptAll = policyFile('accept', { default: [{ type: 'insecureAcceptAnything' }] });
  const root = path.join(work, 'root');
  const units = path.join(work, 'units');
  const tmpfiles = path.join(work, 'tmpfiles');
  const ctx = (policy: string) => ({
    paths: resolvePaths({ root, unitDir: units, tmpfilesDir: tmpfiles, hostRoot: path.join(work, 'host'), signaturePolicy: policy, registriesDir: rd }),
    runner: new RecordingRunner(),
    dryRun: false,
    out: () => {},
    env: {},
  });
  const g = (policy: string) => ['--root', root, '--signature-policy', policy, '--registries.d', rd];

  t.test('pull under one policy, install under a stricter one: refused, nothing written', async (t) => {
    let r = await sysctr([...g(byGood), 'pull', '--tls-verify=false', `docker://${H}/enf/app:1`]);
    t.equal(r.exitCode, 0, r.stderr);
    r = await sysctr([...g(acceptAll), 'pull', '--tls-verify=false', `docker://${H}/enf/app:2`]);
    t.equal(r.exitCode, 0, r.stderr);

    r = await sysctr([...g(byOther), '--unit-dir', units, '--tmpfiles-dir', tmpfiles, 'install', '--name', 'enf-app', `${H}/enf/app:1`]);
    t.equal(r.exitCode, 1);
    t.match(r.stderr, new RegExp(`${H}/enf/app:1: refused by the signature policy ${byOther}: requirement 1 \\(signedBy\\) of default: .*not among the trusted keys`));
    t.notOk(fs.existsSync(path.join(root, 'enf-app.0')), 'no deployment');
    t.notOk(fs.existsSync(path.join(units, 'enf-app.service')), 'no unit');

    const c = ctx(byOther);
    await t.rejects(install(c, { image: `${H}/enf/app:1`, name: 'enf-app' }), /refused by the signature policy/);
    t.same(c.runner.calls, [], 'systemctl never called');
  });

  t.test('installed under the policy that accepts it; update to an unsigned image refused, the live one kept', async (t) => {
    const c = ctx(byGood);
    await install(c, { image: `${H}/enf/app:1`, name: 'enf-app' });
    t.ok(fs.existsSync(path.join(units, 'enf-app.service')), 'installed');
    const before = fs.readlinkSync(path.join(root, 'enf-app'));
    const u = ctx(byGood);
    await t.rejects(update(u, { name: 'enf-app', rebase: `${H}/enf/app:2` }), /requirement 1 \(signedBy\) of default: a GPG signature is required, but the image has none/);
    t.equal(fs.readlinkSync(path.join(root, 'enf-app')), before, 'the live deployment did not change');
    t.notOk(fs.existsSync(path.join(root, 'enf-app.1')), 'no second deployment');
    t.same(u.runner.calls, [], 'systemctl never called');
    // and the CLI says it the same way
    const r = await sysctr([...g(byGood), '--unit-dir', units, '--tmpfiles-dir', tmpfiles, 'containers', 'update', '--rebase', `${H}/enf/app:2`, 'enf-app']);
    t.equal(r.exitCode, 1);
    t.match(r.stderr, /refused by the signature policy/);
  });

  t.test('trust add with --lookaside: skopeo and sysctr read the files it writes alike', async (t) => {
    const p = path.join(work, 'added', 'policy.json');
    const d = path.join(work, 'added', 'registries.d');
    const tg = ['--signature-policy', p, '--registries.d', d];
    t.equal((await sysctr([...tg, 'trust', 'default', 'reject'])).exitCode, 0);
    const add = await sysctr([...tg, 'trust', 'add', `${H}/enf`, '--type', 'signedBy', '--pubkeys', good.publicKey, '--lookaside', `file://${lookaside}`]);
    t.equal(add.exitCode, 0, add.stderr);
    for (const [tag, ok] of [['1', true], ['2', false]] as const) {
      const k = await execa('skopeo', ['copy', '--quiet', '--policy', p, '--registries.d', d, '--src-tls-verify=false', `docker://${H}/enf/app:${tag}`, `dir:${path.join(work, `sk-${tag}`)}`], { reject: false });
      const s = await sysctr(['--root', path.join(work, `root-added-${tag}`), ...tg, 'pull', '--tls-verify=false', `docker://${H}/enf/app:${tag}`]);
      t.equal(k.exitCode === 0, ok, `skopeo on :${tag}: ${k.stderr}`);
      t.equal(s.exitCode === 0, ok, `sysctr on :${tag}: ${s.stderr}`);
    }
    const other = await sysctr([...tg, 'pull', '--root', path.join(work, 'root-added-x'), '--tls-verify=false', `docker://${H}/elsewhere/app:1`]);
    t.match(other.stderr, /requirement 1 \(reject\) of default/, 'outside the scope: the default');
  });

  t.test('an http:// lookaside: skopeo and sysctr fetch the signatures alike', async (t) => {
    const requests: string[] = [];
    const server = http.createServer((req, res) => {
      requests.push(req.url ?? '');
      const file = path.join(lookaside, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
      if (!file.startsWith(lookaside + '/') || !fs.existsSync(file)) return void res.writeHead(404).end();
      res.writeHead(200).end(fs.readFileSync(file));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.teardown(() => new Promise<void>((r) => server.close(() => r())));
    const d = path.join(work, 'registries-http.d');
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, 'http.yaml'), `docker:\n  ${H}/enf:\n    lookaside: http://127.0.0.1:${(server.address() as { port: number }).port}\n`);
    for (const [tag, ok] of [['1', true], ['2', false]] as const) {
      const k = await execa('skopeo', ['copy', '--quiet', '--policy', byGood, '--registries.d', d, '--src-tls-verify=false', `docker://${H}/enf/app:${tag}`, `dir:${path.join(work, `sk-http-${tag}`)}`], { reject: false });
      const s = await sysctr(['--root', path.join(work, `root-http-${tag}`), '--signature-policy', byGood, '--registries.d', d, 'pull', '--tls-verify=false', `docker://${H}/enf/app:${tag}`]);
      t.equal(k.exitCode === 0, ok, `skopeo on :${tag}: ${k.stderr}`);
      t.equal(s.exitCode === 0, ok, `sysctr on :${tag}: ${s.stderr}`);
    }
    t.ok(requests.some((u) => /^\/enf\/app@sha256=[0-9a-f]{64}\/signature-1$/.test(u)), `signatures asked for over http: ${requests.join(' ')}`);
  });

  t.test('restore asks the policy in force: a backup whose image it no longer accepts is refused, nothing installed', async (t) => {
    const p = await sysctr([...g(byGood), 'pull', '--tls-verify=false', `docker://${H}/enf/vol:1`]);
    t.equal(p.exitCode, 0, p.stderr);
    await install(ctx(byGood), { image: `${H}/enf/vol:1`, name: 'enf-restore' });
    const file = path.join(work, 'enf-restore.backup');
    await backup(ctx(byGood), 'enf-restore', { output: file });
    await uninstall(ctx(byGood), 'enf-restore');
    t.notOk(fs.existsSync(path.join(root, 'enf-restore.0')), 'uninstalled before the restore');
    const c = ctx(byOther);
    await t.rejects(restore(c, file), /refused by the signature policy .*requirement 1 \(signedBy\) of default: .*not among the trusted keys/);
    t.notOk(fs.existsSync(path.join(root, 'enf-restore.0')), 'no deployment');
    t.notOk(fs.existsSync(path.join(units, 'enf-restore.service')), 'no unit');
    t.notOk(c.runner.calls.some((call) => call.join(' ').includes('enf-restore')), 'systemctl never called for it');
    const r = await restore(ctx(byGood), file);
    t.equal(r.installed, true, 'the policy that accepts it lets the same backup install');
    t.ok(fs.existsSync(path.join(units, 'enf-restore.service')));
  });

  t.test('bad trust input: a clear error, nothing written', async (t) => {
    const p = path.join(work, 'bad', 'policy.json');
    const tg = ['--signature-policy', p, '--registries.d', path.join(work, 'bad', 'd')];
    let r = await sysctr([...tg, 'trust', 'add', `${H}/enf`, '--type', 'signedBy']);
    t.equal(r.exitCode, 2);
    t.match(r.stderr, /--type signedBy needs --pubkeys FILE/);
    r = await sysctr([...tg, 'trust', 'add', 'https://x.example.org/a', '--type', 'reject']);
    t.equal(r.exitCode, 2);
    t.match(r.stderr, /is not a registry scope/);
    t.notOk(fs.existsSync(p), 'no policy written');
  });
}

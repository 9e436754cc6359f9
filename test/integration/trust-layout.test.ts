/**
 * Signatures carried in OCI layouts and archives. The images and their cosign signatures go to a
 * docker-registry on loopback (signatures made with Node's crypto as cosign makes them, the way
 * test/integration/trust-sigstore.test.ts does), then the real `skopeo copy` brings the image and
 * its `sha256-HEX.sig` into an oci: layout, and GNU tar makes the oci-archive of that layout
 * (skopeo's oci-archive: destination holds one image per file). sysctr pulls from those.
 * GPG simple signing: the real skopeo refuses to write such signatures to oci:, oci-archive: and
 * docker-archive: destinations, and sysctr refuses a signedBy scope there saying so.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { RecordingRunner } from '../../lib/proc.js';
import { resolvePaths } from '../../lib/paths.js';
import { install } from '../../lib/deploy/install.js';
import { update } from '../../lib/deploy/update.js';
import { sysctr } from '../helpers/cli.js';
import { requirePrereqs } from '../helpers/prereq.js';
import { buildImageLayout, pushLayout, registryTestsCanRun, startRegistry, tempDir } from '../helpers/registry.js';
import { cosignPayload, makeCosignKey, makeGpgKey, pushCosignAttachment, pushSigned, registryDigest, writeRegistriesD } from '../helpers/signing.js';

if ((await registryTestsCanRun(t)) && requirePrereqs(t, ['gpg', 'tar'])) {
  const work = tempDir('sysctr-tl-');
  const reg = await startRegistry();
  t.teardown(async () => {
    await reg.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });
  const H = reg.host;
  const good = makeCosignKey(path.join(work, 'cosign.pub'));
  const other = makeCosignKey(path.join(work, 'other.pub'));
  // skopeo copies with a policy and registries.d of the test's own (no host file is read)
  const acceptAll = path.join(work, 'accept.json');
  fs.writeFileSync(acceptAll, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const noRd = path.join(work, 'registries-none.d');
  fs.mkdirSync(noRd);
  const skopeo = (args: string[], env?: Record<string, string>) => execa('skopeo', ['--policy', acceptAll, ...args], { reject: false, env });

  await buildImageLayout(path.join(work, 'src-a'), 'a', { layers: [{ files: { 'etc/hello': 'tl image a\n' } }] });
  await buildImageLayout(path.join(work, 'src-b'), 'b', { layers: [{ files: { 'etc/hello': 'tl image b\n' } }] });
  await pushLayout(path.join(work, 'src-a'), 'a', `${H}/tl/app:1`);
  await pushLayout(path.join(work, 'src-b'), 'b', `${H}/tl/app:2`);
  await pushLayout(path.join(work, 'src-b'), 'b', `${H}/tl/wd:1`);
  const A = await registryDigest(H, 'tl/app', '1');
  const B = await registryDigest(H, 'tl/app', '2');
  const sig = (d: string) => `${d.replace(':', '-')}.sig`;
  await pushCosignAttachment(H, 'tl/app', A, [{ payload: cosignPayload(`${H}/tl/app:1`, A), key: good.privateKey }]);
  await pushCosignAttachment(H, 'tl/app', B, [{ payload: cosignPayload(`${H}/tl/app:2`, B), key: other.privateKey }]);
  // a good signature, but of B
  await pushCosignAttachment(H, 'tl/wd', B, [{ payload: cosignPayload(`${H}/tl/app:2`, B), key: good.privateKey }]);

  const layouts = path.join(work, 'layouts');
  const archives = path.join(work, 'archives');
  fs.mkdirSync(layouts);
  fs.mkdirSync(archives);
  /** skopeo copy of each docker://H/FROM into oci:LAYOUT:TAG, then the archive of that layout */
  async function layout(name: string, copies: Array<[string, string]>): Promise<{ dir: string; archive: string }> {
    const dir = path.join(layouts, name);
    for (const [from, tag] of copies) {
      const r = await skopeo(['copy', '--quiet', '--registries.d', noRd, '--src-tls-verify=false', `docker://${H}/${from}`, `oci:${dir}:${tag}`]);
      if (r.exitCode !== 0) throw new Error(`skopeo copy ${from}: ${r.stderr}`);
    }
    const archive = path.join(archives, `${name}.tar`);
    await execa('tar', ['-C', dir, '-cf', archive, '.']);
    return { dir, archive };
  }
  const signed = await layout('tl-signed', [['tl/app:1', 'app'], [`tl/app:${sig(A)}`, sig(A)]]);
  const otherKey = await layout('tl-otherkey', [['tl/app:2', 'app'], [`tl/app:${sig(B)}`, sig(B)]]);
  const noSig = await layout('tl-nosig', [['tl/app:1', 'app']]);
  const wrongDigest = await layout('tl-wrongdigest', [['tl/app:1', 'app'], [`tl/wd:${sig(B)}`, sig(A)]]);
  const otherSig = await layout('tl-othersig', [['tl/app:1', 'app'], [`tl/wd:${sig(B)}`, sig(B)]]);

  const policyFile = (name: string, req: Record<string, unknown>) => {
    const f = path.join(work, `${name}.json`);
    fs.writeFileSync(f, JSON.stringify({ default: [{ type: 'reject' }], transports: { oci: { [layouts]: [req] }, 'oci-archive': { [archives]: [req] }, 'docker-archive': { '': [req] } } }));
    return f;
  };
  const exactRepo = (repo: string) => ({ type: 'exactRepository', dockerRepository: repo });
  const policy = policyFile('policy', { type: 'sigstoreSigned', keyPath: good.publicKey, signedIdentity: exactRepo(`${H}/tl/app`) });
  const byOther = policyFile('by-other', { type: 'sigstoreSigned', keyPath: other.publicKey, signedIdentity: exactRepo(`${H}/tl/app`) });

  let n = 0;
  async function pull(source: string, p = policy, root = path.join(work, `root-${++n}`)) {
    const s = await sysctr(['--root', root, '--signature-policy', p, 'pull', source]);
    const list = await sysctr(['--root', root, 'images', 'list', '--json']);
    return { s, root, stored: JSON.parse(list.stdout || '[]') as Array<{ name: string; trust?: { verdict: { scope: string; results: Array<{ signatures: Array<{ key?: string; identity?: string; accepted: boolean }> }> } } }> };
  }

  t.test('skopeo copied the image and its .sig into the layout as they are', async (t) => {
    const index = JSON.parse(fs.readFileSync(path.join(signed.dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations: Record<string, string> }> };
    t.same(index.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name']), ['app', sig(A)]);
    t.equal(index.manifests[0].digest, A, 'the image keeps the digest its signature names');
  });

  for (const transport of ['oci', 'oci-archive'] as const) {
    const src = (l: { dir: string; archive: string }, ref = 'app') => `${transport}:${transport === 'oci' ? l.dir : l.archive}${ref ? `:${ref}` : ''}`;
    const scope = `transports.${transport}[${JSON.stringify(transport === 'oci' ? layouts : archives)}]`;

    t.test(`${transport}: signed by the trusted key: accepted, the key and identity recorded`, async (t) => {
      const r = await pull(src(signed));
      t.equal(r.s.exitCode, 0, r.s.stderr);
      t.equal(r.stored.length, 1);
      t.equal(r.stored[0]?.trust?.verdict.scope, scope);
      t.same(r.stored[0]?.trust?.verdict.results[0].signatures.map((s) => [s.key, s.identity, s.accepted]), [[good.publicKey, `${H}/tl/app:1`, true]]);
      const info = await sysctr(['--root', r.root, '--signature-policy', policy, 'images', 'info', r.stored[0].name]);
      t.equal(info.exitCode, 0, info.stderr);
      t.match(info.stdout, `accepted by ${policy}, scope ${scope}`);
      t.match(info.stdout, `sigstore signature by ${good.publicKey} for ${H}/tl/app:1: valid`);
    });

    t.test(`${transport}: without :REF the .sig entry is not taken for a second image`, async (t) => {
      const r = await pull(src(signed, ''));
      t.equal(r.s.exitCode, 0, r.s.stderr);
    });

    const refusals: Array<[string, { dir: string; archive: string }, RegExp]> = [
      ['signed by another key', otherKey, /the signature was not made by any of the trusted keys/],
      ['no .sig', noSig, new RegExp(`a sigstore signature is required, but the layout has no ${sig(A)} entry for ${A}`)],
      ['the .sig of another digest under this digest\'s name', wrongDigest, new RegExp(`the signature is for manifest ${B}, not ${A}`)],
      ['only the .sig of another digest', otherSig, new RegExp(`the layout has no ${sig(A)} entry`)],
    ];
    for (const [what, l, msg] of refusals) {
      t.test(`${transport}: ${what}: refused naming the scope, nothing stored`, async (t) => {
        const r = await pull(src(l));
        t.equal(r.s.exitCode, 1);
        t.match(r.s.stderr, `refused by the signature policy ${policy}: requirement 1 (sigstoreSigned) of ${scope}: `);
        t.match(r.s.stderr, msg);
        t.same(r.stored, [], 'nothing stored');
      });
    }
  }

  t.test('a layout as cosign save writes it (entries marked by kind, no ref names): the signature is found', async (t) => {
    const dir = path.join(layouts, 'tl-cosign-save');
    fs.cpSync(signed.dir, dir, { recursive: true });
    const indexFile = path.join(dir, 'index.json');
    const index = JSON.parse(fs.readFileSync(indexFile, 'utf8')) as { manifests: Array<{ annotations?: Record<string, string> }> };
    const kinds = ['dev.cosignproject.cosign/image', 'dev.cosignproject.cosign/sigs'];
    index.manifests = index.manifests.map((m, i) => ({ ...m, annotations: { kind: kinds[i] } }));
    fs.writeFileSync(indexFile, JSON.stringify(index));
    const r = await pull(`oci:${dir}`);
    t.equal(r.s.exitCode, 0, r.s.stderr);
    t.same(r.stored[0]?.trust?.verdict.results[0].signatures.map((s) => [s.key, s.accepted]), [[good.publicKey, true]]);
  });

  t.test('pulled under a policy that needs no signature: the .sig is kept for a stricter policy later', async (t) => {
    const r = await pull(`oci-archive:${signed.archive}:app`, acceptAll);
    t.equal(r.s.exitCode, 0, r.s.stderr);
    const v = await sysctr(['--root', r.root, '--signature-policy', policy, 'images', 'verify', '--offline', r.stored[0].name]);
    t.equal(v.exitCode, 0, v.stdout + v.stderr);
    t.match(v.stdout, `sigstore signature by ${good.publicKey} for ${H}/tl/app:1: valid`);
  });

  t.test('a layout of a .sig alone holds no image to pull without :REF', async (t) => {
    const l = await layout('tl-sigonly', [[`tl/app:${sig(A)}`, sig(A)]]);
    const r = await pull(`oci:${l.dir}`);
    t.equal(r.s.exitCode, 1);
    t.match(r.s.stderr, 'the layout holds only signatures and attachments, no image');
    t.same(r.stored, []);
  });

  t.test('a .sig whose payload blob was changed: refused, the blob named', async (t) => {
    const dir = path.join(layouts, 'tl-tampered');
    fs.cpSync(signed.dir, dir, { recursive: true });
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const sigManifest = JSON.parse(fs.readFileSync(path.join(dir, 'blobs/sha256', index.manifests[1].digest.slice(7)), 'utf8')) as { layers: Array<{ digest: string }> };
    const payloadFile = path.join(dir, 'blobs/sha256', sigManifest.layers[0].digest.slice(7));
    fs.writeFileSync(payloadFile, fs.readFileSync(payloadFile, 'utf8').replace('tl/app:1', 'tl/app:9'));
    const r = await pull(`oci:${dir}:app`);
    t.equal(r.s.exitCode, 1);
    t.match(r.s.stderr, `signature entry ${sig(A)}: blob ${sigManifest.layers[0].digest} does not match its digest`);
    t.same(r.stored, []);
  });

  t.test('signedIdentity: a layout has no registry reference, so only exactReference / exactRepository can match', async (t) => {
    const dflt = policyFile('default-identity', { type: 'sigstoreSigned', keyPath: good.publicKey });
    let r = await pull(`oci:${signed.dir}:app`, dflt);
    t.equal(r.s.exitCode, 1);
    t.match(r.s.stderr, /no registry reference to match the signature's against \(signedIdentity matchRepoDigestOrExact\); use exactReference or exactRepository/);
    const exact = policyFile('exact', { type: 'sigstoreSigned', keyPath: good.publicKey, signedIdentity: { type: 'exactReference', dockerReference: `${H}/tl/app:1` } });
    r = await pull(`oci:${signed.dir}:app`, exact);
    t.equal(r.s.exitCode, 0, r.s.stderr);
    const exact2 = policyFile('exact2', { type: 'sigstoreSigned', keyPath: good.publicKey, signedIdentity: { type: 'exactReference', dockerReference: `${H}/tl/app:2` } });
    r = await pull(`oci:${signed.dir}:app`, exact2);
    t.equal(r.s.exitCode, 1);
    t.match(r.s.stderr, `the signature is for ${H}/tl/app:1, not ${H}/tl/app:2 (signedIdentity exactReference)`);
    const elsewhere = policyFile('elsewhere', { type: 'sigstoreSigned', keyPath: good.publicKey, signedIdentity: exactRepo(`${H}/tl/other`) });
    r = await pull(`oci-archive:${signed.archive}:app`, elsewhere);
    t.equal(r.s.exitCode, 1);
    t.match(r.s.stderr, `the signature is for ${H}/tl/app:1, not ${H}/tl/other (signedIdentity exactRepository)`);
  });

  t.test('docker-archive carries no signatures: the real skopeo cannot write one there, sysctr refuses a signing scope saying so', async (t) => {
    const archive = path.join(work, 'tl-docker.tar');
    const c = await skopeo(['copy', '--quiet', '--registries.d', noRd, '--src-tls-verify=false', `docker://${H}/tl/app:1`, `docker-archive:${archive}:${H}/tl/app:1`]);
    t.equal(c.exitCode, 0, c.stderr);
    const r = await pull(`docker-archive:${archive}`);
    t.equal(r.s.exitCode, 1);
    t.match(r.s.stderr, 'requirement 1 (sigstoreSigned) of transports.docker-archive[""]: docker-archive: sources carry no signatures');
    t.same(r.stored, []);
  });

  t.test('GPG simple signing: skopeo writes none to oci:, oci-archive: or docker-archive:, and sysctr says so', async (t) => {
    const home = path.join(work, 'gnupg');
    const key = await makeGpgKey(home, 'tl');
    const env = { GNUPGHOME: home };
    const src = `oci:${path.join(work, 'src-a')}:a`;
    // skopeo's own messages, quoted in lib/trust/evaluate.ts and docs/trust.md
    let k = await skopeo(['copy', '--quiet', '--sign-by', key.fingerprint, src, `oci:${path.join(work, 'gpg-out')}:a`], env);
    t.not(k.exitCode, 0);
    t.match(k.stderr, 'Cannot determine canonical Docker reference for destination oci:');
    k = await skopeo(['copy', '--quiet', '--sign-by', key.fingerprint, '--sign-identity', `${H}/tl/app:1`, src, `oci:${path.join(work, 'gpg-out')}:a`], env);
    t.not(k.exitCode, 0);
    t.match(k.stderr, 'Pushing signatures for OCI images is not supported');
    k = await skopeo(['copy', '--quiet', '--sign-by', key.fingerprint, '--sign-identity', `${H}/tl/app:1`, src, `oci-archive:${path.join(work, 'gpg-out.tar')}:a`], env);
    t.match(k.stderr, 'Pushing signatures for OCI images is not supported');
    k = await skopeo(['copy', '--quiet', '--sign-by', key.fingerprint, src, `docker-archive:${path.join(work, 'gpg-out-d.tar')}:${H}/tl/app:1`], env);
    t.not(k.exitCode, 0);
    t.match(k.stderr, 'Storing signatures for docker tar files is not supported');

    // an image with a GPG signature in a lookaside cannot be copied into a layout with it
    const rd = path.join(work, 'registries-gpg.d');
    writeRegistriesD(rd, path.join(work, 'lookaside'));
    await pushSigned(path.join(work, 'src-a'), 'a', `${H}/tl/gpg:1`, { gnupgHome: home, registriesD: rd, fpr: key.fingerprint });
    k = await skopeo(['copy', '--quiet', '--registries.d', rd, '--src-tls-verify=false', `docker://${H}/tl/gpg:1`, `oci:${path.join(work, 'gpg-out2')}:a`]);
    t.not(k.exitCode, 0);
    t.match(k.stderr, 'Can not copy signatures to oci:');
    t.match(k.stderr, 'Pushing signatures for OCI images is not supported');

    const gpgPolicy = policyFile('gpg', { type: 'signedBy', keyType: 'GPGKeys', keyPath: key.publicKey, signedIdentity: exactRepo(`${H}/tl/app`) });
    for (const [source, transport] of [[`oci:${signed.dir}:app`, 'oci'], [`oci-archive:${signed.archive}:app`, 'oci-archive']]) {
      const r = await pull(source, gpgPolicy);
      t.equal(r.s.exitCode, 1);
      t.match(r.s.stderr, `requirement 1 (signedBy) of transports.${transport}[`);
      t.match(r.s.stderr, `${transport}: sources carry no GPG signatures (skopeo: "Pushing signatures for OCI images is not supported"); use a registry with a lookaside, or sigstore attachments`);
      t.same(r.stored, []);
    }
  });

  t.test('images verify reads the layout again; --offline and a layout gone use what the pull recorded', async (t) => {
    const dir = path.join(layouts, 'tl-verify');
    fs.cpSync(signed.dir, dir, { recursive: true });
    // pulled by a path relative to where pull ran: verify, run elsewhere, reads the same layout
    const root = path.join(work, 'root-verify');
    const pulled = await sysctr(['--root', root, '--signature-policy', policy, 'pull', 'oci:tl-verify:app'], { cwd: layouts });
    t.equal(pulled.exitCode, 0, pulled.stderr);
    const r = { root, stored: JSON.parse((await sysctr(['--root', root, 'images', 'list', '--json'])).stdout) as Array<{ name: string }> };
    const name = r.stored[0].name;
    const verify = (p: string, ...extra: string[]) => sysctr(['--root', r.root, '--signature-policy', p, 'images', 'verify', ...extra, name]);
    let v = await verify(policy);
    t.equal(v.exitCode, 0, v.stderr);
    t.equal(v.stderr, '', 'the layout was read again, by its absolute path');
    t.match(v.stdout, `sigstore signature by ${good.publicKey} for ${H}/tl/app:1: valid`);
    v = await verify(byOther);
    t.equal(v.exitCode, 1, 'another key is refused');
    t.match(v.stdout, /REFUSED .*\n.*the signature was not made by any of the trusted keys/);
    const info = await sysctr(['--root', r.root, '--signature-policy', byOther, 'images', 'info', name]);
    t.match(info.stdout, `REFUSED by ${byOther}`);

    // the signature taken out of the layout
    const indexFile = path.join(dir, 'index.json');
    const index = JSON.parse(fs.readFileSync(indexFile, 'utf8')) as { manifests: Array<{ annotations?: Record<string, string> }> };
    index.manifests = index.manifests.filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'app');
    fs.writeFileSync(indexFile, JSON.stringify(index));
    v = await verify(policy);
    t.equal(v.exitCode, 1, 'read again: no signature now');
    t.match(v.stdout, `the layout has no ${sig(A)} entry`);
    v = await verify(policy, '--offline');
    t.equal(v.exitCode, 0, 'the recorded signature');

    fs.rmSync(dir, { recursive: true });
    v = await verify(policy);
    t.equal(v.exitCode, 0, v.stderr);
    t.match(v.stderr, `oci:${dir}:app: cannot read it again`);

    // an archive is unpacked again to be read
    const ra = await pull(`oci-archive:${signed.archive}:app`);
    v = await sysctr(['--root', ra.root, '--signature-policy', policy, 'images', 'verify', ra.stored[0].name]);
    t.equal(v.exitCode, 0, v.stderr);
    t.equal(v.stderr, '', 'read again, no note');
    t.match(v.stdout, `sigstore signature by ${good.publicKey} for ${H}/tl/app:1: valid`);
  });

  t.test('install and containers update ask the policy in force about a layout image, with its recorded signature', async (t) => {
    const root = path.join(work, 'root-deploy');
    const units = path.join(work, 'units');
    const tmpfiles = path.join(work, 'tmpfiles');
    const ctx = (p: string) => ({
      paths: resolvePaths({ root, unitDir: units, tmpfilesDir: tmpfiles, hostRoot: path.join(work, 'host'), signaturePolicy: p, registriesDir: noRd }),
      runner: new RecordingRunner(),
      dryRun: false,
      out: () => {},
      env: {},
    });
    const g = (p: string) => ['--root', root, '--signature-policy', p, '--unit-dir', units, '--tmpfiles-dir', tmpfiles];
    let r = await sysctr(['--root', root, '--signature-policy', policy, 'pull', `oci:${signed.dir}:app`]);
    t.equal(r.exitCode, 0, r.stderr);
    const image = 'localhost/tl-signed:app';

    r = await sysctr([...g(byOther), 'install', '--name', 'tl-app', image]);
    t.equal(r.exitCode, 1);
    t.match(r.stderr, `${image}: refused by the signature policy ${byOther}: requirement 1 (sigstoreSigned) of transports.oci[${JSON.stringify(layouts)}]: none of the 1 signature(s) was accepted`);
    t.notOk(fs.existsSync(path.join(root, 'tl-app.0')), 'no deployment');
    t.notOk(fs.existsSync(path.join(units, 'tl-app.service')), 'no unit');

    // straight from a layout the policy refuses: nothing pulled, nothing installed
    const c0 = ctx(policy);
    await t.rejects(install(c0, { image: `oci:${noSig.dir}:app`, name: 'tl-app' }), /the layout has no sha256-[0-9a-f]{64}\.sig entry/);
    t.same(c0.runner.calls, [], 'systemctl never called');
    const list = await sysctr(['--root', root, 'images', 'list', '--json']);
    t.same((JSON.parse(list.stdout) as Array<{ name: string }>).map((i) => i.name), [image], 'only the signed image in the store');

    const c = ctx(policy);
    await install(c, { image, name: 'tl-app' });
    t.ok(fs.existsSync(path.join(units, 'tl-app.service')), 'installed under the policy that accepts it');
    const before = fs.readlinkSync(path.join(root, 'tl-app'));
    const u = ctx(policy);
    await t.rejects(update(u, { name: 'tl-app', rebase: `oci:${otherKey.dir}:app` }), /requirement 1 \(sigstoreSigned\) of transports\.oci\[.*\]: none of the 1 signature\(s\) was accepted: the signature was not made by any of the trusted keys/);
    t.equal(fs.readlinkSync(path.join(root, 'tl-app')), before, 'the live deployment did not change');
    t.notOk(fs.existsSync(path.join(root, 'tl-app.1')), 'no second deployment');
    t.same(u.runner.calls, [], 'systemctl never called');
    r = await sysctr([...g(policy), 'containers', 'update', '--rebase', `oci-archive:${wrongDigest.archive}:app`, 'tl-app']);
    t.equal(r.exitCode, 1);
    t.match(r.stderr, `the signature is for manifest ${B}, not ${A}`);
    t.equal(fs.readlinkSync(path.join(root, 'tl-app')), before);
  });
}

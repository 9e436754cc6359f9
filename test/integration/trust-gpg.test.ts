/**
 * GPG simple signing against the real tools: keys from `gpg --quick-gen-key`, signatures from
 * `skopeo copy --sign-by` into a file:// lookaside named in a registries.d, images on a
 * docker-registry on loopback. Every case is asked of sysctr and of `skopeo copy` with the same
 * policy file and registries.d: the verdicts must agree, and a refused pull stores nothing.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { sysctr } from '../helpers/cli.js';
import { buildImageLayout, registryTestsCanRun, startRegistry, tempDir } from '../helpers/registry.js';
import { requirePrereqs } from '../helpers/prereq.js';
import { gpgLookasideSetup, gpgSign, lookasideFile, pushSigned, registryDigest, simpleSigningPayload } from '../helpers/signing.js';

if ((await registryTestsCanRun(t)) && requirePrereqs(t, ['gpg', 'gpgv'])) {
  const work = tempDir('sysctr-trust-gpg-');
  const reg = await startRegistry();
  t.teardown(async () => {
    await reg.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });
  const H = reg.host;
  const { gnupgHome, good, other, lookaside, rd } = await gpgLookasideSetup(work);

  await buildImageLayout(path.join(work, 'a'), 'a', { layers: [{ files: { 'etc/hello': 'image a\n' } }] });
  await buildImageLayout(path.join(work, 'b'), 'b', { layers: [{ files: { 'etc/hello': 'image b\n' } }] });
  const push = (layout: string, repo: string, fpr?: string) => pushSigned(path.join(work, layout), layout, `${H}/${repo}:1`, { gnupgHome, registriesD: rd, fpr });
  await push('a', 'trust/signed', good.fingerprint);
  await push('a', 'trust/unsigned');
  await push('b', 'trust/otherkey', other.fingerprint);
  await push('b', 'trust/wrongdigest');
  await push('a', 'trust/otherrepo');
  await push('b', 'trust/badpayload');
  await push('a', 'trust/rejected', good.fingerprint);
  const digestA = await registryDigest(H, 'trust/signed', '1');
  const digestB = await registryDigest(H, 'trust/wrongdigest', '1');
  const signedSig = fs.readFileSync(lookasideFile(lookaside, 'trust/signed', digestA));
  // a good signature (for image a) put where image b's would be
  fs.mkdirSync(path.dirname(lookasideFile(lookaside, 'trust/wrongdigest', digestB)), { recursive: true });
  fs.writeFileSync(lookasideFile(lookaside, 'trust/wrongdigest', digestB), signedSig);
  // the same image under another repository, with the signature made for trust/signed
  fs.mkdirSync(path.dirname(lookasideFile(lookaside, 'trust/otherrepo', digestA)), { recursive: true });
  fs.writeFileSync(lookasideFile(lookaside, 'trust/otherrepo', digestA), signedSig);
  // signed by the right key, but its critical section has a field no signature format has
  const bad = await gpgSign(gnupgHome, good.fingerprint, simpleSigningPayload(`${H}/trust/badpayload:1`, digestB, 'atomic container signature', { extra: 'field' }));
  fs.mkdirSync(path.dirname(lookasideFile(lookaside, 'trust/badpayload', digestB)), { recursive: true });
  fs.writeFileSync(lookasideFile(lookaside, 'trust/badpayload', digestB), bad);

  const signedBy = { type: 'signedBy', keyType: 'GPGKeys', keyPath: good.publicKey };
  const policy = path.join(work, 'policy.json');
  fs.writeFileSync(policy, JSON.stringify({ default: [{ type: 'reject' }], transports: { docker: { [H]: [signedBy], [`${H}/trust/rejected`]: [{ type: 'reject' }] } } }, null, 2));

  let n = 0;
  /** sysctr's and skopeo's verdicts on pulling REF with POLICY */
  async function both(ref: string, p = policy) {
    const root = path.join(work, `root-${++n}`);
    const s = await sysctr(['--root', root, '--signature-policy', p, '--registries.d', rd, 'pull', '--tls-verify=false', `docker://${H}/${ref}`]);
    const k = await execa('skopeo', ['copy', '--quiet', '--policy', p, '--registries.d', rd, '--src-tls-verify=false', `docker://${H}/${ref}`, `dir:${path.join(work, `skopeo-${n}`)}`], { reject: false });
    const list = await sysctr(['--root', root, 'images', 'list', '--json']);
    return { s, k, root, stored: JSON.parse(list.stdout || '[]') as Array<{ name: string; trust?: { verdict: { results: Array<{ signatures: Array<{ key?: string; accepted: boolean }> }> } } }> };
  }

  t.test('signed by the trusted key: accepted, with the key recorded', async (t) => {
    const r = await both('trust/signed:1');
    t.equal(r.k.exitCode, 0, `skopeo accepts: ${r.k.stderr}`);
    t.equal(r.s.exitCode, 0, `sysctr accepts: ${r.s.stderr}`);
    t.equal(r.stored.length, 1);
    const sig = r.stored[0].trust!.verdict.results[0].signatures[0];
    t.same([sig.key, sig.accepted], [good.fingerprint, true], 'the store records which key verified it');
    const info = await sysctr(['--root', r.root, '--signature-policy', policy, 'images', 'info', `${H}/trust/signed:1`]);
    t.match(info.stdout, new RegExp(`Trust: +accepted by ${policy}, scope transports.docker\\["${H}"\\]`));
    t.match(info.stdout, new RegExp(`gpg signature by ${good.fingerprint} for ${H}/trust/signed:1: valid`));
  });

  t.test('by digest: a signature for the repository is enough (matchRepoDigestOrExact)', async (t) => {
    const r = await both(`trust/signed@${digestA}`);
    t.equal(r.k.exitCode, 0, r.k.stderr);
    t.equal(r.s.exitCode, 0, r.s.stderr);
  });

  const refusals: Array<[string, string, RegExp]> = [
    ['unsigned', 'trust/unsigned:1', /requirement 1 \(signedBy\) of transports\.docker\[".*"\]: a GPG signature is required, but the image has none/],
    ['signed by another key', 'trust/otherkey:1', /not among the trusted keys/],
    ['a signature for another digest', 'trust/wrongdigest:1', new RegExp(`the signature is for manifest ${digestA}, not ${digestB}`)],
    ['a signature for another repository', 'trust/otherrepo:1', new RegExp(`the signature is for ${H}/trust/signed:1, not ${H}/trust/otherrepo:1 \\(signedIdentity matchRepoDigestOrExact\\)`)],
    ['a payload with an unknown field', 'trust/badpayload:1', /invalid signed payload: critical has an unknown field "extra"/],
    ['a rejected scope', 'trust/rejected:1', /requirement 1 \(reject\) of transports\.docker\[".*\/trust\/rejected"\]: the scope rejects every image/],
    ['by digest, signed for another repository', `trust/otherrepo@${digestA}`, /the signature is for .*trust\/signed:1, not .*trust\/otherrepo/],
  ];
  for (const [what, ref, msg] of refusals) {
    t.test(`${what}: refused by both, nothing stored`, async (t) => {
      const r = await both(ref);
      t.not(r.k.exitCode, 0, 'skopeo refuses');
      t.equal(r.s.exitCode, 1, 'sysctr refuses');
      t.match(r.s.stderr, /refused by the signature policy/);
      t.match(r.s.stderr, msg, 'says which requirement failed for which scope, and why');
      t.same(r.stored, [], 'nothing stored');
    });
  }

  t.test('exactReference accepts the signature for another repository, in both', async (t) => {
    const p = path.join(work, 'policy-exact.json');
    const exact = { ...signedBy, signedIdentity: { type: 'exactReference', dockerReference: `${H}/trust/signed:1` } };
    fs.writeFileSync(p, JSON.stringify({ default: [{ type: 'reject' }], transports: { docker: { [`${H}/trust/otherrepo`]: [exact] } } }));
    const r = await both('trust/otherrepo:1', p);
    t.equal(r.k.exitCode, 0, r.k.stderr);
    t.equal(r.s.exitCode, 0, r.s.stderr);
  });

  t.test('keyData instead of keyPath: the same verdicts', async (t) => {
    const p = path.join(work, 'policy-keydata.json');
    const keyData = fs.readFileSync(good.publicKey).toString('base64');
    fs.writeFileSync(p, JSON.stringify({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyData }] }));
    const ok = await both('trust/signed:1', p);
    t.same([ok.k.exitCode, ok.s.exitCode], [0, 0], ok.s.stderr);
    const no = await both('trust/otherkey:1', p);
    t.not(no.k.exitCode, 0);
    t.equal(no.s.exitCode, 1);
  });

  t.test('a policy file with an unknown field: refused by both, with its location', async (t) => {
    const p = path.join(work, 'policy-unknown.json');
    fs.writeFileSync(p, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }], transports: { docker: { [H]: [{ ...signedBy, keyPaht: '/x' }] } } }, null, 2));
    const r = await both('trust/signed:1', p);
    t.not(r.k.exitCode, 0, 'skopeo refuses the file');
    t.match(r.k.stderr, /keyPaht/);
    t.equal(r.s.exitCode, 1);
    t.match(r.s.stderr, new RegExp(`invalid signature policy ${p}:\\d+: transports\\.docker\\["${H}"\\]\\[0\\]\\.keyPaht: unknown field "keyPaht"`));
    t.same(r.stored, []);
  });

  t.test('images verify re-checks under the policy in force now', async (t) => {
    const r = await both('trust/signed:1');
    t.equal(r.s.exitCode, 0, r.s.stderr);
    const ok = await sysctr(['--root', r.root, '--signature-policy', policy, '--registries.d', rd, 'images', 'verify', '--tls-verify=false', `${H}/trust/signed:1`]);
    t.equal(ok.exitCode, 0, ok.stderr);
    t.match(ok.stdout, /accepted by/);
    const strict = path.join(work, 'policy-other.json');
    fs.writeFileSync(strict, JSON.stringify({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: other.publicKey }] }));
    const no = await sysctr(['--root', r.root, '--signature-policy', strict, '--registries.d', rd, 'images', 'verify', '--offline', `${H}/trust/signed:1`]);
    t.equal(no.exitCode, 1);
    t.match(no.stdout, /REFUSED by .*policy-other\.json, scope default/);
    t.match(no.stdout, /not among the trusted keys/);
  });
}

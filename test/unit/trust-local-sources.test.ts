/**
 * The policy's verdict on images from OCI layouts, OCI archives and docker archives, as pure
 * logic: keys and cosign signatures made here with Node's crypto. What the real tools write into
 * layouts is test/integration/trust-layout.test.ts.
 */
import t from 'tap';
import crypto from 'node:crypto';
import { evaluate } from '../../lib/trust/evaluate.js';
import { parsePolicy } from '../../lib/trust/policy.js';
import type { TrustSubject } from '../../lib/trust/scope.js';

const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keyData = Buffer.from(publicKey.export({ type: 'spki', format: 'pem' })).toString('base64');
const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const cosign = (ref: string, digest: string) => {
  const payload = Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': ref }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' }, optional: null }));
  return { mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', signature: crypto.sign('sha256', payload, privateKey).toString('base64'), payload };
};
const policy = (req: Record<string, unknown>) =>
  parsePolicy(JSON.stringify({ default: [{ type: 'reject' }], transports: { oci: { '/srv/images': [req] }, 'oci-archive': { '/srv/archives': [req] }, 'docker-archive': { '': [req] } } }), '/test/policy.json');
const oci: TrustSubject = { transport: 'oci', path: '/srv/images/app', ref: '1' };
const archive: TrustSubject = { transport: 'oci-archive', path: '/srv/archives/app.tar' };
const dockerArchive: TrustSubject = { transport: 'docker-archive' };
const exactRepository = { type: 'exactRepository', dockerRepository: 'registry.example.org/app' };

t.test('sigstoreSigned on a layout: the signature, its digest, and an identity the policy names', async (t) => {
  const p = policy({ type: 'sigstoreSigned', keyData, signedIdentity: exactRepository });
  let v = await evaluate(p, oci, A, { gpg: [], sigstore: [cosign('registry.example.org/app:1', A)] });
  t.ok(v.accepted);
  t.equal(v.scope, 'transports.oci["/srv/images"]');
  t.same(v.results[0].signatures.map((s) => [s.key, s.identity, s.accepted]), [['keyData', 'registry.example.org/app:1', true]]);
  v = await evaluate(p, archive, A, { gpg: [], sigstore: [cosign('registry.example.org/app:1', B)] });
  t.notOk(v.accepted);
  t.match(v.results[0].reason, `the signature is for manifest ${B}, not ${A}`);
  v = await evaluate(p, oci, A, { gpg: [], sigstore: [cosign('registry.example.org/other:1', A)] });
  t.match(v.results[0].reason, 'the signature is for registry.example.org/other:1, not registry.example.org/app (signedIdentity exactRepository)');
});

t.test('identities that compare with the pulled reference: a layout image has none', async (t) => {
  for (const signedIdentity of [undefined, { type: 'matchRepository' }, { type: 'matchExact' }, { type: 'remapIdentity', prefix: 'a.example.org', signedPrefix: 'registry.example.org' }]) {
    const v = await evaluate(policy({ type: 'sigstoreSigned', keyData, ...(signedIdentity ? { signedIdentity } : {}) }), oci, A, { gpg: [], sigstore: [cosign('registry.example.org/app:1', A)] });
    t.notOk(v.accepted, signedIdentity?.type ?? 'default');
    t.match(v.results[0].reason, /the image has no registry reference to match the signature's against .*use exactReference or exactRepository/);
  }
});

t.test('nothing to check: the reason depends on where the image came from', async (t) => {
  const sigstore = policy({ type: 'sigstoreSigned', keyData, signedIdentity: exactRepository });
  const gpg = policy({ type: 'signedBy', keyType: 'GPGKeys', keyData: 'QQ==', signedIdentity: exactRepository });
  const none = { gpg: [], sigstore: [] };
  t.match((await evaluate(sigstore, oci, A, none)).results[0].reason, `the layout has no sha256-${'a'.repeat(64)}.sig entry for ${A} (copy it in beside the image: skopeo copy docker://REPO:sha256-${'a'.repeat(64)}.sig oci:PATH:`);
  t.match((await evaluate(gpg, oci, A, none)).results[0].reason, 'oci: sources carry no GPG signatures (skopeo: "Pushing signatures for OCI images is not supported")');
  t.match((await evaluate(gpg, archive, A, none)).results[0].reason, 'oci-archive: sources carry no GPG signatures');
  for (const p of [sigstore, gpg]) {
    const v = await evaluate(p, dockerArchive, A, none);
    t.equal(v.scope, 'transports.docker-archive[""]');
    t.match(v.results[0].reason, 'docker-archive: sources carry no signatures (skopeo: "Storing signatures for docker tar files is not supported"');
  }
});

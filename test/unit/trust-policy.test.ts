/**
 * The pure logic of lib/trust: strict policy parsing with locations, the order scopes are tried
 * in, signedIdentity matching, strict payload parsing, and registries.d lookup. (Signatures
 * themselves are checked against the real tools in test/integration/trust-*.test.ts.)
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parsePolicy, readPolicy } from '../../lib/trust/policy.js';
import { candidateScopes, lookupScope } from '../../lib/trust/scope.js';
import { identityMismatch } from '../../lib/trust/identity.js';
import { parseSignedPayload, COSIGN_TYPE, SIMPLE_SIGNING_TYPE } from '../../lib/trust/payload.js';
import { lookasideFor, readRegistriesD } from '../../lib/trust/registries-d.js';
import { parseReference } from '../../lib/image/reference.js';
import { dearmorPgp } from '../../lib/trust/keys.js';

const p = (o: unknown) => parsePolicy(JSON.stringify(o, null, 2), '/etc/containers/policy.json');
const D = 'sha256:' + 'a'.repeat(64);

t.test('policy: strict, with the location of what is wrong', async (t) => {
  t.throws(() => p({}), /\(top level\): field "default" is missing/);
  t.throws(() => p({ default: [] }), /default: an empty list of requirements is not allowed/);
  t.throws(() => p({ default: [{ type: 'reject' }], extra: 1 }), /policy\.json:\d+: extra: unknown field "extra"/);
  t.throws(() => p({ default: [{ type: 'accept' }] }), /default\[0\]\.type: unknown requirement type "accept"/);
  t.throws(() => p({ default: [{ type: 'reject', keyPath: '/k' }] }), /default\[0\]\.keyPath: unknown field/);
  t.throws(() => p({ default: [{ type: 'signedBy', keyType: 'GPGKeys' }] }), /exactly one of keyPath, keyPaths and keyData must be set \(none given\)/);
  t.throws(() => p({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/a', keyData: 'QQ==' }] }), /\(keyPath and keyData given\)/);
  t.throws(() => p({ default: [{ type: 'signedBy', keyType: 'X509', keyPath: '/a' }] }), /keyType: unsupported key type "X509"/);
  t.throws(() => p({ default: [{ type: 'sigstoreSigned', keyPath: '/a', signedIdentity: { type: 'matchRepository', x: 1 } }] }), /signedIdentity\.x: unknown field "x"/);
  t.throws(() => p({ default: [{ type: 'sigstoreSigned', keyPath: '/a', fulcio: {} }] }), /does not support yet/);
  t.throws(() => p({ default: [{ type: 'reject' }], transports: { podman: {} } }), /transports\.podman: unknown transport "podman"/);
  t.throws(() => p({ default: [{ type: 'reject' }], transports: { docker: { 'https://x.example.org': [{ type: 'reject' }] } } }), /invalid scope: a docker scope has no scheme/);
  t.throws(() => p({ default: [{ type: 'reject' }], transports: { oci: { 'relative/dir': [{ type: 'reject' }] } } }), /an oci scope is an absolute path/);
  t.throws(() => p({ default: [{ type: 'reject' }], transports: { 'docker-archive': { '/x.tar': [{ type: 'reject' }] } } }), /only the transport default/);
  const ok = p({ default: [{ type: 'reject' }], transports: { docker: { 'quay.io/a': [{ type: 'sigstoreSigned', keyPaths: ['/k1', '/k2'] }] }, 'docker-daemon': { '': [{ type: 'insecureAcceptAnything' }] } } });
  t.same(ok.transports.docker['quay.io/a'][0], { type: 'sigstoreSigned', keyPaths: ['/k1', '/k2'], signedIdentity: { type: 'matchRepoDigestOrExact' } }, 'signedIdentity defaults to matchRepoDigestOrExact');
  t.throws(() => parsePolicy('{"default": [', '/p.json'), /invalid signature policy \/p\.json: not JSON/);
  t.throws(() => parsePolicy('{\n "default": [{"type": "reject"}],\n "default": [{"type": "insecureAcceptAnything"}]\n}', '/p.json'), /\/p\.json:3: default: the field appears twice/);
  t.throws(() => parsePolicy('{\n "default": [\n  {"type": "reject"}\n ],\n "transports": {"docker": {"a.example.org": [{"type": "reject", "keyPath": "/k"}]}}\n}', '/p.json'), /\/p\.json:5: transports\.docker\["a\.example\.org"\]\[0\]\.keyPath: unknown field/);
});

t.test('policy file: missing is accept-anything unless named', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-trust-unit-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const missing = path.join(dir, 'none.json');
  t.same(readPolicy(missing, false).default, [{ type: 'insecureAcceptAnything' }]);
  t.equal(readPolicy(missing, false).file, undefined, 'and says there is no file');
  t.throws(() => readPolicy(missing, true), /cannot read the signature policy/);
});

t.test('scopes: most specific first', async (t) => {
  const ref = parseReference('registry.example.org:5000/team/app:1');
  t.same(candidateScopes({ transport: 'docker', reference: ref }), [
    'registry.example.org:5000/team/app:1',
    'registry.example.org:5000/team/app',
    'registry.example.org:5000/team',
    'registry.example.org:5000',
    '*.example.org',
    '*.org',
  ]);
  t.same(candidateScopes({ transport: 'oci', path: '/srv/images/app', ref: 'v1' }), ['/srv/images/app:v1', '/srv/images/app', '/srv/images', '/srv', '/']);
  const policy = p({
    default: [{ type: 'reject' }],
    transports: { docker: { '': [{ type: 'insecureAcceptAnything' }], 'registry.example.org:5000/team': [{ type: 'reject' }], '*.example.org': [{ type: 'insecureAcceptAnything' }] } },
  });
  t.equal(lookupScope(policy, { transport: 'docker', reference: ref }).label, 'transports.docker["registry.example.org:5000/team"]');
  t.equal(lookupScope(policy, { transport: 'docker', reference: parseReference('x.example.org/a:1') }).label, 'transports.docker["*.example.org"]');
  t.equal(lookupScope(policy, { transport: 'docker', reference: parseReference('quay.io/a:1') }).label, 'transports.docker[""]');
  t.equal(lookupScope(policy, { transport: 'oci', path: '/x' }).label, 'default');
});

t.test('signedIdentity', async (t) => {
  const tagged = parseReference('r.example.org/team/app:1');
  const byDigest = parseReference(`r.example.org/team/app@${D}`);
  const m = (id: Parameters<typeof identityMismatch>[0], img: typeof tagged | undefined, signed: string) => identityMismatch(id, img, signed) === undefined;
  const rdoe = { type: 'matchRepoDigestOrExact' } as const;
  t.ok(m(rdoe, tagged, 'r.example.org/team/app:1'));
  t.notOk(m(rdoe, tagged, 'r.example.org/team/app:2'), 'by tag: the very tag');
  t.ok(m(rdoe, byDigest, 'r.example.org/team/app:anything'), 'by digest: any tag of the repository');
  t.notOk(m(rdoe, byDigest, 'r.example.org/team/other:1'));
  t.ok(m({ type: 'matchRepository' }, tagged, 'r.example.org/team/app:9'));
  t.notOk(m({ type: 'matchExact' }, byDigest, 'r.example.org/team/app:1'));
  t.ok(m({ type: 'exactReference', dockerReference: 'r.example.org/team/app:1' }, undefined, 'r.example.org/team/app:1'), 'needs no image reference');
  t.ok(m({ type: 'exactRepository', dockerRepository: 'r.example.org/base' }, tagged, 'r.example.org/base:7'));
  t.ok(m({ type: 'remapIdentity', prefix: 'mirror.example.org', signedPrefix: 'r.example.org' }, parseReference('mirror.example.org/team/app:1'), 'r.example.org/team/app:1'), 'a mirror under the signed name');
  t.notOk(m({ type: 'remapIdentity', prefix: 'mirror.example.org', signedPrefix: 'r.example.org' }, parseReference('mirror.example.orgx/team/app:1'), 'r.example.org/team/app:1'), 'a prefix ends at a boundary');
  t.ok(m(rdoe, parseReference('busybox:1'), 'docker.io/library/busybox:1'), 'short names normalised');
  t.match(identityMismatch(rdoe, undefined, 'a.example.org/x:1'), /no registry reference/);
});

t.test('payloads: strict', async (t) => {
  const payload = (critical: Record<string, unknown>, optional: unknown = { creator: 'x' }) => Buffer.from(JSON.stringify({ critical, optional }));
  const critical = { type: SIMPLE_SIGNING_TYPE, image: { 'docker-manifest-digest': D }, identity: { 'docker-reference': 'a.example.org/x:1' } };
  t.same(parseSignedPayload(payload(critical), SIMPLE_SIGNING_TYPE), { manifestDigest: D, dockerReference: 'a.example.org/x:1', creator: 'x' });
  t.throws(() => parseSignedPayload(payload({ ...critical, x: 1 }), SIMPLE_SIGNING_TYPE), /critical has an unknown field "x"/);
  t.throws(() => parseSignedPayload(payload({ ...critical, image: { 'docker-manifest-digest': D, x: 1 } }), SIMPLE_SIGNING_TYPE), /critical\.image has an unknown field/);
  t.throws(() => parseSignedPayload(payload(critical), COSIGN_TYPE), /critical\.type is "atomic container signature", not "cosign/);
  t.throws(() => parseSignedPayload(Buffer.from(JSON.stringify({ critical })), SIMPLE_SIGNING_TYPE), /has no "optional"/);
  t.throws(() => parseSignedPayload(Buffer.from(JSON.stringify({ critical, optional: {}, more: 1 })), SIMPLE_SIGNING_TYPE), /unknown field "more"/);
  t.ok(parseSignedPayload(payload({ ...critical, type: COSIGN_TYPE }, null), COSIGN_TYPE), 'cosign writes optional: null');
  t.throws(() => parseSignedPayload(payload({ ...critical, image: { 'docker-manifest-digest': 'sha256:12' } }), SIMPLE_SIGNING_TYPE), /is not a sha256 digest/);
});

t.test('registries.d: most specific entry, then default-docker; duplicates refused', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-trust-unit-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'a.yaml'), 'default-docker:\n  sigstore: file:///var/lib/sigs\ndocker:\n  r.example.org/team:\n    lookaside: https://sigs.example.org/\n    use-sigstore-attachments: true\n');
  fs.writeFileSync(path.join(dir, 'ignored.conf'), 'not: [yaml');
  const cfg = readRegistriesD(dir);
  t.same(lookasideFor(cfg, parseReference('r.example.org/team/app:1')), { lookaside: 'https://sigs.example.org', lookasideStaging: undefined, useSigstoreAttachments: true, file: path.join(dir, 'a.yaml') });
  t.equal(lookasideFor(cfg, parseReference('q.example.org/app:1')).lookaside, 'file:///var/lib/sigs', 'the old name "sigstore" is read too');
  fs.writeFileSync(path.join(dir, 'b.yaml'), 'docker:\n  r.example.org/team:\n    lookaside: file:///x\n');
  t.throws(() => readRegistriesD(dir), /docker\["r\.example\.org\/team"\] is already set in .*a\.yaml/);
  fs.writeFileSync(path.join(dir, 'b.yaml'), 'docker:\n  r.example.org:\n    lookaside: ftp://x\n');
  t.throws(() => readRegistriesD(dir), /lookaside must be a file:\/\/, http:\/\/ or https:\/\/ URL/);
});

t.test('armor removed, binary kept', async (t) => {
  const bin = Buffer.from([0x99, 0x01, 0x02, 0x03]);
  const armored = Buffer.from(`-----BEGIN PGP PUBLIC KEY BLOCK-----\nComment: x\n\n${bin.toString('base64')}\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n`);
  t.same(dearmorPgp(armored), bin);
  t.same(dearmorPgp(bin), bin);
});

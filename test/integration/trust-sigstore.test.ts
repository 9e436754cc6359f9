/**
 * Sigstore (cosign) signatures with a public key: ECDSA P-256 keys and signatures made here with
 * Node's crypto, as cosign makes them, pushed as the `sha256-HEX.sig` attachment to a
 * docker-registry on loopback; registries.d turns attachments on. (Debian's skopeo is built with
 * sigstore disabled, so it cannot be asked for a second verdict here.)
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { sysctr } from '../helpers/cli.js';
import { buildImageLayout, pushLayout, registryTestsCanRun, startRegistry, tempDir } from '../helpers/registry.js';
import { cosignPayload, makeCosignKey, pushCosignAttachment, registryDigest } from '../helpers/signing.js';

if (await registryTestsCanRun(t)) {
  const work = tempDir('sysctr-trust-sigstore-');
  const reg = await startRegistry();
  t.teardown(async () => {
    await reg.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });
  const H = reg.host;
  const good = makeCosignKey(path.join(work, 'cosign.pub'));
  const other = makeCosignKey(path.join(work, 'other.pub'));
  const rd = path.join(work, 'registries.d');
  fs.mkdirSync(rd);
  fs.writeFileSync(path.join(rd, 'sigstore.yaml'), 'default-docker:\n  use-sigstore-attachments: true\n');

  await buildImageLayout(path.join(work, 'a'), 'a', { layers: [{ files: { 'etc/hello': 'image a\n' } }] });
  await buildImageLayout(path.join(work, 'b'), 'b', { layers: [{ files: { 'etc/hello': 'image b\n' } }] });
  const repos: Record<string, 'a' | 'b'> = { signed: 'a', nosig: 'a', otherkey: 'b', wrongdigest: 'b', otherrepo: 'a', badpayload: 'b', twosigs: 'b', rejected: 'a' };
  for (const [repo, layout] of Object.entries(repos)) await pushLayout(path.join(work, layout), layout, `${H}/cos/${repo}:1`);
  const A = await registryDigest(H, 'cos/signed', '1');
  const B = await registryDigest(H, 'cos/otherkey', '1');
  const ref = (repo: string) => `${H}/cos/${repo}:1`;
  await pushCosignAttachment(H, 'cos/signed', A, [{ payload: cosignPayload(ref('signed'), A), key: good.privateKey }]);
  await pushCosignAttachment(H, 'cos/rejected', A, [{ payload: cosignPayload(ref('rejected'), A), key: good.privateKey }]);
  await pushCosignAttachment(H, 'cos/otherkey', B, [{ payload: cosignPayload(ref('otherkey'), B), key: other.privateKey }]);
  await pushCosignAttachment(H, 'cos/wrongdigest', B, [{ payload: cosignPayload(ref('wrongdigest'), A), key: good.privateKey }]);
  await pushCosignAttachment(H, 'cos/otherrepo', A, [{ payload: cosignPayload(ref('signed'), A), key: good.privateKey }]);
  await pushCosignAttachment(H, 'cos/badpayload', B, [{ payload: cosignPayload(ref('badpayload'), B, { extra: 'field' }), key: good.privateKey }]);
  await pushCosignAttachment(H, 'cos/twosigs', B, [
    { payload: cosignPayload(ref('twosigs'), B), key: other.privateKey },
    { payload: cosignPayload(ref('twosigs'), B), key: good.privateKey },
  ]);

  const sigstoreSigned = { type: 'sigstoreSigned', keyPath: good.publicKey };
  const policy = path.join(work, 'policy.json');
  fs.writeFileSync(policy, JSON.stringify({ default: [{ type: 'reject' }], transports: { docker: { [H]: [sigstoreSigned], [`${H}/cos/rejected`]: [{ type: 'reject' }] } } }));

  let n = 0;
  async function pull(repo: string, p = policy, r = rd) {
    const root = path.join(work, `root-${++n}`);
    const s = await sysctr(['--root', root, '--signature-policy', p, '--registries.d', r, 'pull', '--tls-verify=false', `docker://${H}/cos/${repo}`]);
    const list = await sysctr(['--root', root, 'images', 'list', '--json']);
    return { s, root, stored: JSON.parse(list.stdout || '[]') as Array<{ trust?: { verdict: { results: Array<{ signatures: Array<{ key?: string; accepted: boolean }> }> } } }> };
  }

  t.test('signed with the trusted key: accepted, the key recorded', async (t) => {
    const r = await pull('signed:1');
    t.equal(r.s.exitCode, 0, r.s.stderr);
    t.same(r.stored[0]?.trust?.verdict.results[0].signatures.map((s) => [s.key, s.accepted]), [[good.publicKey, true]]);
    const info = await sysctr(['--root', r.root, '--signature-policy', policy, 'images', 'info', ref('signed')]);
    t.match(info.stdout, new RegExp(`sigstore signature by ${good.publicKey} for ${H}/cos/signed:1: valid`));
  });

  t.test('one good signature among others is enough', async (t) => {
    const r = await pull('twosigs:1');
    t.equal(r.s.exitCode, 0, r.s.stderr);
  });

  t.test('keyPaths: any of the keys', async (t) => {
    const p = path.join(work, 'policy-keypaths.json');
    fs.writeFileSync(p, JSON.stringify({ default: [{ type: 'sigstoreSigned', keyPaths: [other.publicKey, good.publicKey] }] }));
    t.equal((await pull('signed:1', p)).s.exitCode, 0);
    t.equal((await pull('otherkey:1', p)).s.exitCode, 0, 'signed by the other key, also trusted now');
  });

  const refusals: Array<[string, string, RegExp]> = [
    ['unsigned', 'nosig:1', /a sigstore signature is required, but the image has none/],
    ['signed by another key', 'otherkey:1', /the signature was not made by any of the trusted keys/],
    ['a signature for another digest', 'wrongdigest:1', new RegExp(`the signature is for manifest ${A}, not ${B}`)],
    ['a signature for another repository', 'otherrepo:1', new RegExp(`the signature is for ${H}/cos/signed:1, not ${H}/cos/otherrepo:1`)],
    ['a payload with an unknown field', 'badpayload:1', /invalid signed payload: critical has an unknown field "extra"/],
    ['a rejected scope', 'rejected:1', /requirement 1 \(reject\) of transports\.docker\[".*\/cos\/rejected"\]/],
  ];
  for (const [what, r, msg] of refusals) {
    t.test(`${what}: refused, nothing stored`, async (t) => {
      const res = await pull(r);
      t.equal(res.s.exitCode, 1);
      t.match(res.s.stderr, /refused by the signature policy/);
      t.match(res.s.stderr, msg);
      t.same(res.stored, [], 'nothing stored');
    });
  }

  t.test('attachments not enabled in registries.d: the signature is not looked for', async (t) => {
    const empty = path.join(work, 'registries-empty.d');
    fs.mkdirSync(empty);
    const r = await pull('signed:1', policy, empty);
    t.equal(r.s.exitCode, 1);
    t.match(r.s.stderr, /use-sigstore-attachments must be true/);
  });

  t.test('trust add --type sigstoreSigned writes what the pull then enforces', async (t) => {
    const p = path.join(work, 'policy-added.json');
    const d = path.join(work, 'registries-added.d');
    const g = ['--signature-policy', p, '--registries.d', d];
    t.equal((await sysctr([...g, 'trust', 'default', 'reject'])).exitCode, 0);
    const add = await sysctr([...g, 'trust', 'add', `${H}/cos`, '--type', 'sigstoreSigned', '--pubkeys', good.publicKey]);
    t.equal(add.exitCode, 0, add.stderr);
    const show = await sysctr([...g, 'trust', 'show']);
    t.match(show.stdout, new RegExp(`docker ${H}/cos +sigstoreSigned ${good.publicKey}`));
    t.match(show.stdout, /sigstore attachments/);
    t.equal((await pull('signed:1', p, d)).s.exitCode, 0);
    t.equal((await pull('otherkey:1', p, d)).s.exitCode, 1);
  });
}

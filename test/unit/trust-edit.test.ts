/**
 * `trust add` / `trust default` on files in a temp dir: what they write parses back as the
 * policy and registries.d they mean, an entry is merged, and another tool's registries.d entry is
 * not overwritten (nothing written then). skopeo reading these files is in
 * test/integration/trust-enforce.test.ts.
 */
import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addTrust, setDefault, showPolicy } from '../../lib/trust/edit.js';
import { readPolicy } from '../../lib/trust/policy.js';
import { readRegistriesD } from '../../lib/trust/registries-d.js';
import { resolvePaths } from '../../lib/paths.js';

function setup(t: Test) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-trust-edit-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const paths = resolvePaths({ root: dir, signaturePolicy: path.join(dir, 'policy.json'), registriesDir: path.join(dir, 'registries.d') }).trust;
  for (const k of ['k1.gpg', 'k2.gpg', 'cosign.pub']) fs.writeFileSync(path.join(dir, k), 'key\n');
  return { dir, paths };
}

t.test('add to no policy: accept-anything default kept, the scope added', async (t) => {
  const { dir, paths } = setup(t);
  const r = addTrust(paths, 'r.example.org/team', { type: 'signedBy', pubkeys: [path.join(dir, 'k1.gpg'), path.join(dir, 'k2.gpg')], lookaside: 'https://sigs.example.org/s' });
  const p = readPolicy(paths.policy, true);
  t.same(p.default, [{ type: 'insecureAcceptAnything' }]);
  t.same(p.transports.docker['r.example.org/team'], [{ type: 'signedBy', keyType: 'GPGKeys', keyPaths: [path.join(dir, 'k1.gpg'), path.join(dir, 'k2.gpg')], signedIdentity: { type: 'matchRepoDigestOrExact' } }]);
  t.equal(readRegistriesD(paths.registriesDir).docker['r.example.org/team'].lookaside, 'https://sigs.example.org/s');
  t.equal(r.registriesFile, path.join(paths.registriesDir, 'sysctr-r.example.org_team.yaml'));
  t.same(fs.readdirSync(dir).filter((n) => n.startsWith('.tmp')), [], 'no temp file left');
});

t.test('a second add for the scope replaces the requirement and merges its registries.d entry', async (t) => {
  const { dir, paths } = setup(t);
  addTrust(paths, 'r.example.org', { type: 'signedBy', pubkeys: [path.join(dir, 'k1.gpg')], lookaside: 'file:///srv/sigs' });
  addTrust(paths, 'r.example.org', { type: 'sigstoreSigned', pubkeys: [path.join(dir, 'cosign.pub')] });
  const e = readRegistriesD(paths.registriesDir).docker['r.example.org'];
  t.same([e.lookaside, e.useSigstoreAttachments], ['file:///srv/sigs', true]);
  t.same(readPolicy(paths.policy, true).transports.docker['r.example.org'], [{ type: 'sigstoreSigned', keyPath: path.join(dir, 'cosign.pub'), signedIdentity: { type: 'matchRepoDigestOrExact' } }], 'one key: keyPath');
  setDefault(paths, 'reject');
  const p = readPolicy(paths.policy, true);
  t.same(p.default, [{ type: 'reject' }]);
  t.ok(p.transports.docker['r.example.org'], 'default changes nothing else');
  t.same(showPolicy(paths).scopes.map((s) => `${s.transport} ${s.scope}`), [' default', 'docker r.example.org']);
});

t.test("another file's entry for the scope is left alone; nothing written", async (t) => {
  const { dir, paths } = setup(t);
  fs.mkdirSync(paths.registriesDir);
  fs.writeFileSync(path.join(paths.registriesDir, 'site.yaml'), 'docker:\n  r.example.org:\n    lookaside: file:///site\n');
  t.throws(() => addTrust(paths, 'r.example.org', { type: 'signedBy', pubkeys: [path.join(dir, 'k1.gpg')], lookaside: 'file:///x' }), /site\.yaml already configures r\.example\.org/);
  t.notOk(fs.existsSync(paths.policy));
  t.same(fs.readdirSync(paths.registriesDir), ['site.yaml']);
});

t.test('bad input: usage errors', async (t) => {
  const { dir, paths } = setup(t);
  t.throws(() => addTrust(paths, 'r.example.org', { type: 'sigstoreSigned' }), { code: 2, message: /needs --pubkeys/ });
  t.throws(() => addTrust(paths, 'r.example.org', { type: 'reject', pubkeys: [path.join(dir, 'k1.gpg')] }), { code: 2 });
  t.throws(() => addTrust(paths, 'r.example.org', { type: 'signedBy', pubkeys: [path.join(dir, 'missing.gpg')] }), /does not exist/);
  t.throws(() => addTrust(paths, 'r.example.org', { type: 'accept', lookaside: 'ftp://x' }), /--lookaside ftp:\/\/x/);
  t.throws(() => addTrust(paths, 'Upper/Case', { type: 'reject' }), { code: 2, message: /not a registry scope/ });
  t.notOk(fs.existsSync(paths.policy), 'nothing written');
});

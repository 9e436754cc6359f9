/**
 * Registry authentication against the real registry: htpasswd Basic auth (right and wrong
 * password, auth files) and Bearer tokens from a JWT issuer run by the test (RS256 with an x5c
 * chain, ES256 with a libtrust key id), the way distribution 2.8 validates them.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { openRegistrySource } from '../../lib/image/registry/index.js';
import { parseReference } from '../../lib/image/reference.js';
import { SysctrError } from '../../lib/errors.js';
import type { Descriptor } from '../../lib/image/types.js';
import { buildImageLayout, pushLayout, registryTestsCanRun, startRegistry, tempDir, type LayoutImage } from '../helpers/registry.js';

const USER = 'tester';
const PASS = 'pa:ss-w0rd';

if (await registryTestsCanRun(t)) {
  const work = tempDir();
  t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
  const layout = path.join(work, 'img');
  const img: LayoutImage = await buildImageLayout(layout, 'v1', { layers: [{ files: { 'etc/secret': 'not so secret\n' } }] });

  /** manifest + every blob through the source; returns the manifest digest */
  async function pullAll(host: string, opts: Parameters<typeof openRegistrySource>[1]): Promise<string> {
    const src = await openRegistrySource(parseReference(`${host}/private/app:v1`), opts);
    const m = await src.getManifest();
    const doc = JSON.parse(m.bytes.toString()) as { config: Descriptor; layers: Descriptor[] };
    for (const d of [doc.config, ...doc.layers]) {
      const h = createHash('sha256');
      for await (const c of await src.getBlob(d)) h.update(c as Buffer);
      if (`sha256:${h.digest('hex')}` !== d.digest) throw new Error(`blob ${d.digest} differs`);
    }
    return m.digest;
  }

  t.test('htpasswd basic auth', async (t) => {
    const reg = await startRegistry({ basic: { user: USER, pass: PASS } });
    t.teardown(() => reg.stop());
    await pushLayout(layout, 'v1', `${reg.host}/private/app:v1`, { creds: `${USER}:${PASS}` });

    t.equal(await pullAll(reg.host, { tlsVerify: false, creds: `${USER}:${PASS}` }), img.manifestDigest, 'right password: pulled');

    const wrong = (await pullAll(reg.host, { tlsVerify: false, creds: `${USER}:nope` }).catch((e: unknown) => e)) as SysctrError;
    t.type(wrong, SysctrError);
    t.equal(wrong.message, `${reg.host}/private/app:v1: unauthorized (authentication required) [HTTP 401]`);
    t.match(wrong.hint, /--creds/);

    const none = (await pullAll(reg.host, { tlsVerify: false, env: {} }).catch((e: unknown) => e)) as SysctrError;
    t.match(none.message, /unauthorized \(authentication required\) \[HTTP 401\]/, 'no credentials: 401');

    const authJson = path.join(work, 'auth.json');
    fs.writeFileSync(authJson, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`${USER}:${PASS}`).toString('base64') } } }));
    t.equal(await pullAll(reg.host, { tlsVerify: false, env: { REGISTRY_AUTH_FILE: authJson } }), img.manifestDigest, 'REGISTRY_AUTH_FILE');
    t.equal(await pullAll(reg.host, { tlsVerify: false, authFile: authJson }), img.manifestDigest, 'authFile option');

    const home = path.join(work, 'home');
    fs.mkdirSync(path.join(home, '.docker'), { recursive: true });
    fs.writeFileSync(
      path.join(home, '.docker/config.json'),
      JSON.stringify({ auths: { [`http://${reg.host}/private`]: { auth: Buffer.from(`${USER}:${PASS}`).toString('base64') } } }),
    );
    t.equal(await pullAll(reg.host, { tlsVerify: false, env: { HOME: home, DOCKER_CONFIG: path.join(home, '.docker') } }), img.manifestDigest, 'docker config.json, namespaced key');

    const runtimeDir = path.join(work, 'run');
    fs.mkdirSync(path.join(runtimeDir, 'containers'), { recursive: true });
    fs.writeFileSync(path.join(runtimeDir, 'containers/auth.json'), JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`${USER}:bad`).toString('base64') } } }));
    const stale = (await pullAll(reg.host, { tlsVerify: false, env: { XDG_RUNTIME_DIR: runtimeDir, HOME: home } }).catch((e: unknown) => e)) as SysctrError;
    t.match(stale.message, /HTTP 401/, '$XDG_RUNTIME_DIR/containers/auth.json comes first (and here is wrong)');
  });

  for (const alg of ['RS256', 'ES256'] as const) {
    t.test(`bearer token auth (${alg}, ${alg === 'RS256' ? 'x5c chain' : 'libtrust kid'})`, async (t) => {
      const reg = await startRegistry({ token: { user: USER, pass: PASS, alg, anonymousPull: alg === 'ES256' } });
      t.teardown(() => reg.stop());
      await pushLayout(layout, 'v1', `${reg.host}/private/app:v1`, { creds: `${USER}:${PASS}` });
      const issuer = reg.issuer!;
      issuer.requests.length = 0;

      t.equal(await pullAll(reg.host, { tlsVerify: false, creds: `${USER}:${PASS}` }), img.manifestDigest, 'pulled with a token');
      t.equal(issuer.requests.length, 1, 'one token for manifest and blobs: cached per scope');
      t.same(issuer.requests[0], { scope: 'repository:private/app:pull', service: 'sysctr-test-registry', authorized: true });

      issuer.requests.length = 0;
      const wrong = (await pullAll(reg.host, { tlsVerify: false, creds: `${USER}:nope` }).catch((e: unknown) => e)) as SysctrError;
      t.type(wrong, SysctrError);
      t.match(wrong.message, `${reg.host}/private/app:v1: token request to http://127.0.0.1:${issuer.port}/token failed: unauthorized (bad user name or password) [HTTP 401]`);

      const anon = await pullAll(reg.host, { tlsVerify: false, env: {} }).catch((e: unknown) => e);
      if (alg === 'ES256') t.equal(anon, img.manifestDigest, 'anonymous pull token from an issuer that allows it');
      else t.match((anon as SysctrError).message, /this registry needs credentials/, 'anonymous refused by the issuer: its text is shown');
    });
  }

  t.test('an anonymous token for a repository that is not there: 404 with the reference', async (t) => {
    const reg = await startRegistry({ token: { user: USER, pass: PASS, anonymousPull: true } });
    t.teardown(() => reg.stop());
    // nothing pushed: an anonymous token for pull is valid, the repository is not there
    const src = await openRegistrySource(parseReference(`${reg.host}/private/none:v1`), { tlsVerify: false, env: {} });
    const err = (await src.getManifest().catch((e: unknown) => e)) as SysctrError;
    t.match(err.message, `${reg.host}/private/none:v1: not found`);
  });
}

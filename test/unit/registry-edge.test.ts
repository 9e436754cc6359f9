/**
 * What the real registry 2.8 will not produce on demand, from a tiny scripted server on
 * 127.0.0.1: schema 1 manifests, a manifest that does not match the digest asked for, an
 * oversized manifest, a generic Content-Type, a server that ignores Range or cannot resume.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import { openRegistrySource } from '../../lib/image/registry/index.js';
import { parseReference } from '../../lib/image/reference.js';
import { SysctrError } from '../../lib/errors.js';
import { isTransientNetworkError, networkErrorCode, unreachableError } from '../../lib/image/registry/errors.js';
import { authFileCandidates, credentialsFromAuthFile, parseChallenge, parseCreds } from '../../lib/image/registry/auth.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const sha = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const blob = Buffer.alloc(300_000, 'blob-bytes-');
const blobDigest = sha(blob);
const ociManifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] });
const schema1 = JSON.stringify({ schemaVersion: 1, name: 'x/old', tag: 'v1', fsLayers: [], history: [] });
const other = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [], x: 1 });

/** how the blob endpoint behaves: 'ignore-range' cuts the first answer then serves 200 in full */
let blobMode: 'ignore-range' | 'no-ranges' = 'ignore-range';
let blobRequests: (string | undefined)[] = [];

const server = http.createServer((req, res) => {
  const url = req.url ?? '';
  if (url === '/v2/') return res.writeHead(200).end('{}');
  if (url === '/v2/x/old/manifests/v1') {
    return res.writeHead(200, { 'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' }).end(schema1);
  }
  if (url === '/v2/x/generic/manifests/v1') return res.writeHead(200, { 'content-type': 'application/json' }).end(ociManifest);
  if (url === `/v2/x/lie/manifests/${sha(ociManifest)}`) return res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end(other);
  if (url === '/v2/x/big/manifests/v1') return res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end(ociManifest.padEnd(5000, ' '));
  if (url === `/v2/x/blob/blobs/${blobDigest}`) {
    blobRequests.push(req.headers.range);
    const headers: http.OutgoingHttpHeaders = { 'content-length': blob.length, 'content-type': 'application/octet-stream' };
    if (blobMode === 'ignore-range') headers['accept-ranges'] = 'bytes';
    res.writeHead(200, headers);
    if (blobRequests.length === 1) {
      // the first answer stops after 70000 bytes: the connection drops
      res.write(blob.subarray(0, 70_000), () => res.socket?.destroy());
      return;
    }
    return res.end(blob);
  }
  res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
t.teardown(() => {
  server.closeAllConnections();
  server.close();
});
const open = (name: string, opts = {}) => openRegistrySource(parseReference(`${host}/${name}`), { insecureHttp: true, retryDelayMs: 10, ...opts });

t.test('schema 1 is recognised and refused', async (t) => {
  const err = (await (await open('x/old:v1')).getManifest().catch((e: unknown) => e)) as SysctrError;
  t.type(err, SysctrError);
  t.match(err.message, `${host}/x/old:v1: schema 1 manifests are not supported;`);
});

t.test('a generic Content-Type: the media type comes from the document', async (t) => {
  const m = await (await open('x/generic:v1')).getManifest();
  t.equal(m.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  t.equal(m.digest, sha(ociManifest));
});

t.test('a manifest asked for by digest must hash to it', async (t) => {
  const err = (await (await open(`x/lie@${sha(ociManifest)}`)).getManifest().catch((e: unknown) => e)) as SysctrError;
  t.match(err.message, `served a manifest whose digest is ${sha(other)}, not ${sha(ociManifest)}; refused`);
});

t.test('manifests over the size limit are refused', async (t) => {
  const err = (await (await open('x/big:v1', { maxManifestBytes: 1000 })).getManifest().catch((e: unknown) => e)) as SysctrError;
  t.match(err.message, `${host}/x/big:v1: the manifest is larger than 1000 bytes; refused`);
});

t.test('a server that ignores Range: the first bytes of the full answer are skipped', async (t) => {
  blobMode = 'ignore-range';
  blobRequests = [];
  const src = await open('x/blob:v1');
  const h = createHash('sha256');
  let n = 0;
  for await (const c of await src.getBlob({ mediaType: 'x', digest: blobDigest, size: blob.length }, { onBytes: (b) => (n += b) })) h.update(c as Buffer);
  t.equal(`sha256:${h.digest('hex')}`, blobDigest);
  t.equal(n, blob.length, 'each byte counted once');
  t.same(blobRequests, [undefined, 'bytes=70000-']);
});

t.test('a server that cannot resume: a clear error', async (t) => {
  blobMode = 'no-ranges';
  blobRequests = [];
  const src = await open('x/blob:v1');
  const err = await (async () => {
    try {
      for await (const _ of await src.getBlob({ mediaType: 'x', digest: blobDigest, size: blob.length })) void _;
    } catch (e) {
      return e as SysctrError;
    }
  })();
  t.type(err, SysctrError);
  t.match(err?.message, `blob ${blobDigest} of ${host}/x/blob:v1: download failed`);
  t.match(err?.message, 'does not support resuming');
});

t.test('localhost names the loopback registry too (and is not trusted for plain http by itself)', async (t) => {
  const port = host.split(':')[1];
  const m = await (await openRegistrySource(parseReference(`localhost:${port}/x/generic:v1`), { tlsVerify: false })).getManifest();
  t.equal(m.digest, sha(ociManifest));
  const err = (await openRegistrySource(parseReference(`localhost:${port}/x/generic:v1`), { retries: 0 }).catch((e: unknown) => e)) as SysctrError;
  t.match(err.hint, /--tls-verify=false/);
});

t.test('unknown host and refused connection: one line with the reference', async (t) => {
  // no DNS query leaves this machine: the failure is made up, as undici reports it
  const enotfound = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.example'), { code: 'ENOTFOUND' }) });
  const e1 = unreachableError(enotfound, 'nowhere.example:5000', 'nowhere.example:5000/app:1', { tlsVerify: true, https: true });
  t.equal(e1.message, 'cannot reach registry nowhere.example:5000 for nowhere.example:5000/app:1: unknown host nowhere.example');
  t.notOk(isTransientNetworkError(enotfound), 'an unknown host is not retried');
  const closed = await new Promise<number>((r) => {
    const s = http.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => r(p));
    });
  });
  const refused = await fetch(`http://127.0.0.1:${closed}/v2/`).catch((e: unknown) => e);
  t.equal(networkErrorCode(refused), 'ECONNREFUSED');
  t.ok(isTransientNetworkError(refused), 'a refused connection is retried');
  const err = (await openRegistrySource(parseReference(`127.0.0.1:${closed}/app:1`), { insecureHttp: true, retries: 1, retryDelayMs: 10 }).catch((e: unknown) => e)) as SysctrError;
  t.equal(err.message, `cannot reach registry 127.0.0.1:${closed} for 127.0.0.1:${closed}/app:1: connection refused`);
});

t.test('WWW-Authenticate parsing and auth file keys', async (t) => {
  t.same(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'), {
    scheme: 'bearer',
    params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' },
  });
  t.same(parseChallenge('Basic realm="x"'), { scheme: 'basic', params: { realm: 'x' } });
  t.equal(parseChallenge('Negotiate abc'), undefined);
  t.equal(parseChallenge(null), undefined);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-auth-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'config.json');
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  fs.writeFileSync(f, JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: b64('hub:pw') }, 'quay.io': { auth: b64('q:1') }, 'quay.io/team': { auth: b64('team:2') } } }));
  t.same(credentialsFromAuthFile(f, 'docker.io', 'library/etcd'), { username: 'hub', password: 'pw' });
  t.same(credentialsFromAuthFile(f, 'quay.io', 'team/app'), { username: 'team', password: '2' }, 'the most specific key wins');
  t.same(credentialsFromAuthFile(f, 'quay.io', 'other/app'), { username: 'q', password: '1' });
  t.equal(credentialsFromAuthFile(f, 'ghcr.io', 'x'), undefined);
  t.equal(credentialsFromAuthFile(path.join(dir, 'absent.json'), 'quay.io', 'x'), undefined);
  t.same(parseCreds('u:p:q'), { username: 'u', password: 'p:q' });
  t.throws(() => parseCreds('nopass'), /invalid --creds: expected USER:PASS/);
  t.same(authFileCandidates({ XDG_RUNTIME_DIR: '/run/user/0' }, '/root'), [
    '/run/user/0/containers/auth.json',
    '/root/.config/containers/auth.json',
    '/root/.docker/config.json',
  ]);
});

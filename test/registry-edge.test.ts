/**
 * What the real registry 2.8 will not produce on demand, from a tiny scripted server on
 * 127.0.0.1: schema 1 manifests, a manifest that does not match the digest asked for, an
 * oversized manifest, a generic Content-Type, a server that ignores Range or cannot resume.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import { openRegistrySource } from '../lib/image/registry/index.js';
import { parseReference } from '../lib/image/reference.js';
import { SysctrError } from '../lib/errors.js';

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

/**
 * Faults between sysctr and a real registry, made by a loopback proxy: a blob stream cut mid-way
 * (resumed with Range), a corrupted blob (delivered as is: pull's digest check refuses it), a
 * registry killed mid-blob, and a redirect to another origin (no Authorization sent there).
 */
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { openRegistrySource } from '../../lib/image/registry/index.js';
import { parseReference } from '../../lib/image/reference.js';
import { SysctrError } from '../../lib/errors.js';
import type { Descriptor } from '../../lib/image/types.js';
import { buildImageLayout, pushLayout, registryTestsCanRun, startRegistry, tempDir } from '../helpers/registry.js';
import { startProxy } from '../helpers/registry-proxy.js';

async function drain(s: Readable): Promise<{ digest: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of s) {
    h.update(c as Buffer);
    size += (c as Buffer).length;
  }
  return { digest: `sha256:${h.digest('hex')}`, size };
}

const fast = { tlsVerify: false, retryDelayMs: 20 };

if (await registryTestsCanRun(t)) {
  const work = tempDir();
  t.teardown(() => fs.rmSync(work, { recursive: true, force: true }));
  const USER = 'u';
  const PASS = 'p';
  const reg = await startRegistry({ basic: { user: USER, pass: PASS } });
  t.teardown(() => reg.stop());
  // random bytes do not compress: the gzip layer is ~3 MiB, big enough to cut in the middle
  const img = await buildImageLayout(path.join(work, 'big'), 'v1', { layers: [{ files: { 'data.bin': randomBytes(3 << 20) } }] });
  await pushLayout(path.join(work, 'big'), 'v1', `${reg.host}/big/app:v1`, { creds: `${USER}:${PASS}` });
  const layer: Descriptor = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: img.layers[0].digest, size: img.layers[0].size };
  const creds = `${USER}:${PASS}`;
  // bigger than loopback socket buffers can hold, so that killing the registry cuts it
  const huge = await buildImageLayout(path.join(work, 'huge'), 'v1', { layers: [{ files: { 'data.bin': randomBytes(32 << 20) } }] });
  await pushLayout(path.join(work, 'huge'), 'v1', `${reg.host}/big/huge:v1`, { creds });
  const hugeLayer: Descriptor = { mediaType: layer.mediaType, digest: huge.layers[0].digest, size: huge.layers[0].size };

  t.test('a blob stream cut after N bytes is resumed with Range: one continuous stream', async (t) => {
    const cuts = [100_000, 1_000_000];
    const proxy = await startProxy({ target: reg.port, blobFault: (n) => (n <= cuts.length ? { cutAfter: cuts[n - 1] - (n === 2 ? cuts[0] : 0) } : undefined) });
    t.teardown(() => proxy.stop());
    const retries: string[] = [];
    const src = await openRegistrySource(parseReference(`${proxy.host}/big/app:v1`), { ...fast, creds, onRetry: (r) => retries.push(r.reason) });
    let reported = 0;
    const got = await drain(await src.getBlob(layer, { onBytes: (n) => (reported += n) }));
    t.equal(got.digest, layer.digest, 'the bytes hash to the digest');
    t.equal(got.size, layer.size);
    t.equal(reported, layer.size, 'onBytes counts each byte once');
    const blobReqs = proxy.requests.filter((r) => r.url.includes('/blobs/'));
    t.equal(blobReqs.length, 3, 'one GET and two resumptions');
    t.same(blobReqs.map((r) => r.range), [undefined, 'bytes=100000-', 'bytes=1000000-']);
    t.equal(proxy.blobBytes, layer.size, 'no byte was transferred twice');
    t.equal(retries.length, 2);
  });

  t.test('a stream cut on every attempt: a clear error naming the blob and the registry', async (t) => {
    const proxy = await startProxy({ target: reg.port, blobFault: () => ({ cutAfter: 0 }) });
    t.teardown(() => proxy.stop());
    const src = await openRegistrySource(parseReference(`${proxy.host}/big/app:v1`), { ...fast, creds, retries: 2 });
    const err = (await drain(await src.getBlob(layer)).catch((e: unknown) => e)) as SysctrError;
    t.type(err, SysctrError);
    t.match(err.message, `blob ${layer.digest} of ${proxy.host}/big/app:v1: download failed`);
    t.match(err.message, /gave up after 2 retries/);
    t.comment(err.message);
  });

  t.test('a corrupted blob is delivered as served: the digest does not match', async (t) => {
    const proxy = await startProxy({ target: reg.port, blobFault: () => ({ corruptAt: 5000 }) });
    t.teardown(() => proxy.stop());
    const src = await openRegistrySource(parseReference(`${proxy.host}/big/app:v1`), { ...fast, creds });
    const got = await drain(await src.getBlob(layer));
    t.equal(got.size, layer.size);
    t.not(got.digest, layer.digest, 'the pull pipeline hashes and refuses this');
  });

  t.test('redirects to another origin never carry the Authorization header', async (t) => {
    const storageAuth = 'Basic ' + Buffer.from(creds).toString('base64');
    const proxy = await startProxy({ target: reg.port, redirectBlobs: { storageAuth } });
    t.teardown(() => proxy.stop());
    const src = await openRegistrySource(parseReference(`${proxy.host}/big/app:v1`), { ...fast, creds });
    const m = await src.getManifest();
    t.equal(m.digest, img.manifestDigest);
    const got = await drain(await src.getBlob(layer));
    t.equal(got.digest, layer.digest, 'blob fetched from the redirect target');
    const manifestReq = proxy.requests.find((r) => r.url.includes('/manifests/'));
    t.equal(manifestReq?.authorization, storageAuth, 'the registry itself gets the credentials');
    const blobAtRegistry = proxy.requests.find((r) => r.url.includes('/blobs/'));
    t.equal(blobAtRegistry?.authorization, storageAuth, 'the blob request to the registry origin is authorised');
    t.equal(proxy.storageRequests.length, 1, 'the redirect was followed');
    t.equal(proxy.storageRequests[0].authorization, undefined, 'the other origin got no Authorization header');
  });

  t.test('5xx answers are retried before any byte is delivered', async (t) => {
    let failures = 2;
    const proxy = await startProxy({ target: reg.port, blobFault: () => (failures-- > 0 ? { status: 503 } : undefined) });
    t.teardown(() => proxy.stop());
    const retries: string[] = [];
    const src = await openRegistrySource(parseReference(`${proxy.host}/big/app:v1`), { ...fast, creds, onRetry: (r) => retries.push(r.reason) });
    t.equal((await drain(await src.getBlob(layer))).digest, layer.digest);
    t.same(retries, ['HTTP 503', 'HTTP 503']);
  });

  t.test('the registry killed mid-blob: a clear error, no hang', async (t) => {
    const victim = await startRegistry({ storageDir: reg.storageDir, basic: { user: USER, pass: PASS } });
    t.teardown(() => victim.stop());
    const src = await openRegistrySource(parseReference(`${victim.host}/big/huge:v1`), { ...fast, creds, retries: 2 });
    const stream = await src.getBlob(hugeLayer);
    let got = 0;
    const err = await (async () => {
      try {
        for await (const c of stream) {
          if (got === 0) {
            victim.kill();
            await new Promise((r) => setTimeout(r, 200));
          }
          got += (c as Buffer).length;
        }
      } catch (e) {
        return e as SysctrError;
      }
    })();
    t.type(err, SysctrError, `stream failed after ${got} bytes`);
    t.ok(got < hugeLayer.size, 'not every byte arrived');
    t.match(err?.message, `blob ${hugeLayer.digest} of ${victim.host}/big/huge:v1: download failed`);
    t.match(err?.message, /connection refused/);
    t.notMatch(err?.message, /\n/);
    t.comment(err?.message ?? '');
  });
}

/**
 * The registry ImageSource against a real registry (docker-registry 2.8 on 127.0.0.1), images
 * pushed with skopeo: manifests, blobs, a multi-platform index, digest references, misses.
 */
import t from 'tap';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { openRegistrySource } from '../../lib/image/registry/index.js';
import { parseReference } from '../../lib/image/reference.js';
import { formatPlatform, parsePlatform, selectManifest } from '../../lib/image/platform.js';
import { SysctrError } from '../../lib/errors.js';
import type { Descriptor } from '../../lib/image/types.js';
import { buildImageLayout, buildIndexLayout, pushLayout, registryTestsCanRun, startRegistry, tempDir, type Registry } from '../helpers/registry.js';

async function sha256Of(stream: Readable): Promise<{ digest: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `sha256:${h.digest('hex')}`, size };
}

if (await registryTestsCanRun(t)) {
  const work = tempDir();
  const reg: Registry = await startRegistry();
  t.teardown(async () => {
    await reg.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  const single = await buildImageLayout(path.join(work, 'single'), 'v1', {
    layers: [{ files: { 'etc/hello': 'hello\n' } }, { files: { 'usr/bin/tool': 'x'.repeat(5000) } }],
    labels: { 'atomic.type': 'system' },
  });
  await pushLayout(path.join(work, 'single'), 'v1', `${reg.host}/test/single:v1`);

  const platforms = [
    { os: 'linux', architecture: 'amd64' },
    { os: 'linux', architecture: 'arm64', variant: 'v8' },
    { os: 'linux', architecture: 'arm', variant: 'v7' },
    { os: 'linux', architecture: 'arm', variant: 'v6' },
    { os: 'linux', architecture: 'arm', variant: 'v5' },
  ];
  const multi = await buildIndexLayout(
    path.join(work, 'multi'),
    'latest',
    platforms.map((p) => ({ platform: p, layers: [{ files: { 'etc/arch': `${formatPlatform(p)}\n` } }] })),
  );
  await pushLayout(path.join(work, 'multi'), 'latest', `${reg.host}/practice/multi:latest`, { all: true });

  const ref = (s: string) => parseReference(`${reg.host}/${s}`);

  t.test('anonymous: manifest and blobs come back byte for byte', async (t) => {
    const src = await openRegistrySource(ref('test/single:v1'), { tlsVerify: false });
    t.equal(src.transport, 'docker');
    t.equal(src.imageName(), `${reg.host}/test/single:v1`);
    const m = await src.getManifest();
    t.equal(m.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    t.equal(m.digest, single.manifestDigest, 'the digest is the sha256 of the bytes served');
    t.equal(`sha256:${createHash('sha256').update(m.bytes).digest('hex')}`, m.digest);
    const manifest = JSON.parse(m.bytes.toString()) as { config: Descriptor; layers: Descriptor[] };
    t.equal(manifest.layers.length, 2);
    for (const d of [manifest.config, ...manifest.layers]) {
      let reported = 0;
      const got = await sha256Of(await src.getBlob(d, { onBytes: (n) => (reported += n) }));
      t.equal(got.digest, d.digest, `blob ${d.digest.slice(0, 19)} verifies`);
      t.equal(got.size, d.size);
      t.equal(reported, d.size, 'onBytes reports every byte');
    }
    await src.close();
  });

  t.test('plain http is used only when asked; localhost is not trusted automatically', async (t) => {
    const err = await openRegistrySource(ref('test/single:v1'), {}).catch((e: unknown) => e);
    t.type(err, SysctrError);
    t.match((err as SysctrError).message, `cannot reach registry ${reg.host} for ${reg.host}/test/single:v1`);
    t.match((err as SysctrError).hint, /--tls-verify=false/);
    const src = await openRegistrySource(ref('test/single:v1'), { insecureHttp: true });
    t.equal((await src.getManifest()).digest, single.manifestDigest, "Atomic's http: prefix (insecureHttp) works");
  });

  t.test('https with a self-signed certificate: refused by default, accepted with tlsVerify false', async (t) => {
    const tls = await startRegistry({ tls: true });
    t.teardown(() => tls.stop());
    await execa('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${path.join(work, 'single')}:v1`, `docker://${tls.host}/test/single:v1`]);
    const err = (await openRegistrySource(parseReference(`${tls.host}/test/single:v1`), {}).catch((e: unknown) => e)) as SysctrError;
    t.type(err, SysctrError);
    t.match(err.message, `cannot reach registry ${tls.host} for ${tls.host}/test/single:v1: TLS failed (self-signed certificate)`);
    t.match(err.hint, /--tls-verify=false/);
    const src = await openRegistrySource(parseReference(`${tls.host}/test/single:v1`), { tlsVerify: false });
    t.equal((await src.getManifest()).digest, single.manifestDigest, 'https without certificate checks (the registry speaks only TLS)');
    const plain = (await openRegistrySource(parseReference(`${tls.host}/test/single:v1`), { insecureHttp: true }).catch((e: unknown) => e)) as SysctrError;
    t.type(plain, SysctrError, 'insecureHttp speaks only plain http');
  });

  t.test('a tag or repository that does not exist: 404 with the registry text and the reference', async (t) => {
    const src = await openRegistrySource(ref('test/single:nope'), { tlsVerify: false });
    const err = (await src.getManifest().catch((e: unknown) => e)) as SysctrError;
    t.type(err, SysctrError);
    t.match(err.message, `${reg.host}/test/single:nope`);
    t.match(err.message, /not found \(manifest unknown\) \[HTTP 404\]/);
    t.notMatch(err.message, /\n/, 'one line');
    const src2 = await openRegistrySource(ref('test/absent:v1'), { tlsVerify: false });
    const err2 = (await src2.getManifest().catch((e: unknown) => e)) as SysctrError;
    // distribution 2.8 answers MANIFEST_UNKNOWN for a repository it has never seen, too
    t.match(err2.message, `${reg.host}/test/absent:v1: not found (manifest unknown) [HTTP 404]`);
    const blobErr = (await src.getBlob({ mediaType: 'x', digest: `sha256:${'0'.repeat(64)}`, size: 1 }).catch((e: unknown) => e)) as SysctrError;
    t.match(blobErr.message, /blob sha256:0{64} of .* not found \(blob unknown to registry\)/);
  });

  t.test('a digest reference: fetched by digest, named name@digest', async (t) => {
    const src = await openRegistrySource(ref(`test/single@${single.manifestDigest}`), { tlsVerify: false });
    t.equal(src.imageName(), `${reg.host}/test/single@${single.manifestDigest}`);
    const m = await src.getManifest();
    t.equal(m.digest, single.manifestDigest);
    const missing = `sha256:${'a'.repeat(64)}`;
    const src2 = await openRegistrySource(ref(`test/single@${missing}`), { tlsVerify: false });
    const err = (await src2.getManifest().catch((e: unknown) => e)) as SysctrError;
    t.match(err.message, /not found/);
  });

  t.test('multi-platform index: each platform is selectable, a miss lists them all', async (t) => {
    const src = await openRegistrySource(ref('practice/multi:latest'), { tlsVerify: false });
    const top = await src.getManifest();
    t.equal(top.mediaType, 'application/vnd.oci.image.index.v1+json');
    t.equal(top.digest, multi.indexDigest, 'skopeo --all kept the index as built');
    const index = JSON.parse(top.bytes.toString()) as { manifests: Descriptor[] };
    for (const spec of ['linux/amd64', 'linux/arm64/v8', 'linux/arm64', 'linux/arm/v7', 'linux/arm', 'linux/arm/v6', 'linux/arm/v5']) {
      const d = selectManifest(index.manifests, parsePlatform(spec));
      const child = await src.getManifest(d.digest);
      t.equal(child.digest, d.digest);
      const config = JSON.parse(child.bytes.toString()) as { config: Descriptor };
      const cfg = JSON.parse((await streamToBuffer(await src.getBlob(config.config))).toString()) as { architecture: string; variant?: string };
      const want = parsePlatform(spec);
      t.equal(cfg.architecture, want.architecture, `${spec}: the config's architecture`);
      if (want.variant) t.equal(cfg.variant, want.variant, `${spec}: the config's variant`);
    }
    const err = (() => {
      try {
        selectManifest(index.manifests, parsePlatform('linux/s390x'), { image: src.imageName() });
      } catch (e) {
        return e as SysctrError;
      }
    })();
    t.match(err?.message, 'no image for platform linux/s390x in');
    t.match(err?.message, 'linux/amd64, linux/arm64/v8, linux/arm/v7, linux/arm/v6, linux/arm/v5');
    const wrongDigest = (await src.getManifest(`sha256:${'b'.repeat(64)}`).catch((e: unknown) => e)) as SysctrError;
    t.match(wrongDigest.message, /manifest sha256:b{64} of .*not found/);
  });
}

async function streamToBuffer(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

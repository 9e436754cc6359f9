/**
 * Builds test images at test time: OCI layouts, OCI archives and both `docker save` layouts,
 * from lists of tar entries or from fixture directories; and with umoci from a source dir.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { execa } from 'execa';
import * as tar from 'tar';
import { projectDir } from './cli.js';
import { tarBuffer, type TarEntry } from './tar-writer.js';

export type { TarEntry };

export interface LayerSpec {
  entries: TarEntry[];
  compression?: 'gzip' | 'zstd' | 'none';
  /** replace the compressed bytes before hashing (a forged blob whose digest still matches) */
  rewrite?: (blob: Buffer) => Buffer;
  /** replace the blob bytes after hashing (to make a corrupt blob) */
  corrupt?: (blob: Buffer) => Buffer;
  /** cut the compressed blob to this many bytes, keeping the declared digest of the whole */
  truncateTo?: number;
}

export interface ImageSpec {
  layers: LayerSpec[];
  config?: { Entrypoint?: string[]; Cmd?: string[]; Env?: string[]; WorkingDir?: string; User?: string; Labels?: Record<string, string> };
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
}

export interface BuiltBlob {
  digest: string;
  size: number;
  mediaType: string;
  bytes: Buffer;
}

export interface BuiltImage {
  manifest: BuiltBlob;
  config: BuiltBlob;
  layers: BuiltBlob[];
  diffIds: string[];
}

const sha = (b: Buffer) => 'sha256:' + crypto.createHash('sha256').update(b).digest('hex');

function compress(raw: Buffer, c: LayerSpec['compression']): { bytes: Buffer; mediaType: string } {
  if (c === 'none') return { bytes: raw, mediaType: 'application/vnd.oci.image.layer.v1.tar' };
  if (c === 'zstd') {
    const bytes = execFileSync('zstd', ['-q', '-c', '-3'], { input: raw, maxBuffer: 1 << 30 });
    return { bytes, mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' };
  }
  return { bytes: zlib.gzipSync(raw), mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' };
}

export function buildImage(spec: ImageSpec): BuiltImage {
  const layers: BuiltBlob[] = [];
  const diffIds: string[] = [];
  for (const l of spec.layers) {
    const raw = tarBuffer(l.entries);
    diffIds.push(sha(raw));
    const compressed = compress(raw, l.compression ?? 'gzip');
    const mediaType = compressed.mediaType;
    const bytes = l.rewrite ? l.rewrite(Buffer.from(compressed.bytes)) : compressed.bytes;
    const digest = sha(bytes);
    let stored = l.corrupt ? l.corrupt(Buffer.from(bytes)) : bytes;
    if (l.truncateTo !== undefined) stored = stored.subarray(0, l.truncateTo);
    layers.push({ digest, size: bytes.length, mediaType, bytes: stored });
  }
  const configDoc = {
    created: spec.created ?? '2026-01-01T00:00:00Z',
    architecture: spec.architecture ?? 'amd64',
    os: spec.os ?? 'linux',
    ...(spec.variant ? { variant: spec.variant } : {}),
    config: spec.config ?? {},
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: [],
  };
  const cb = Buffer.from(JSON.stringify(configDoc));
  const config = { digest: sha(cb), size: cb.length, mediaType: 'application/vnd.oci.image.config.v1+json', bytes: cb };
  const mb = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    }),
  );
  return { manifest: { digest: sha(mb), size: mb.length, mediaType: 'application/vnd.oci.image.manifest.v1+json', bytes: mb }, config, layers, diffIds };
}

function writeBlob(dir: string, b: { digest: string; bytes: Buffer }): void {
  const p = path.join(dir, 'blobs', 'sha256', b.digest.slice(7));
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, b.bytes);
}

/** Writes images into an OCI layout; each with an optional ref name and platform. */
export function writeOciLayout(dir: string, images: Array<{ image: BuiltImage; ref?: string; platform?: { os: string; architecture: string; variant?: string } }>): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const manifests = [];
  for (const { image, ref, platform } of images) {
    for (const b of [image.manifest, image.config, ...image.layers]) writeBlob(dir, b);
    manifests.push({
      mediaType: image.manifest.mediaType,
      digest: image.manifest.digest,
      size: image.manifest.size,
      ...(platform ? { platform } : {}),
      ...(ref ? { annotations: { 'org.opencontainers.image.ref.name': ref } } : {}),
    });
  }
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
}

/** A multi-platform image: the layout's one entry is an index pointing at per-platform manifests. */
export function writeOciIndexLayout(dir: string, ref: string, images: Array<{ image: BuiltImage; platform: { os: string; architecture: string; variant?: string } }>): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  for (const { image } of images) for (const b of [image.manifest, image.config, ...image.layers]) writeBlob(dir, b);
  const ib = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: images.map(({ image, platform }) => ({ mediaType: image.manifest.mediaType, digest: image.manifest.digest, size: image.manifest.size, platform })),
    }),
  );
  const index = { digest: sha(ib), bytes: ib };
  writeBlob(dir, index);
  fs.writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: index.digest, size: ib.length, annotations: { 'org.opencontainers.image.ref.name': ref } }],
    }),
  );
}

export async function writeOciArchive(file: string, images: Parameters<typeof writeOciLayout>[1]): Promise<void> {
  const dir = fs.mkdtempSync(path.join(path.dirname(file), '.oci-'));
  writeOciLayout(dir, images);
  await tar.c({ file, cwd: dir, portable: true }, ['oci-layout', 'index.json', 'blobs']);
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * `docker save` archives. legacy: <n>/layer.tar (uncompressed) + <configid>.json + manifest.json +
 * repositories; oci: the Docker 25+ layout (OCI layout plus manifest.json naming blobs).
 */
export async function writeDockerArchive(file: string, image: BuiltImage, repoTags: string[], layout: 'legacy' | 'oci' = 'legacy'): Promise<void> {
  const dir = fs.mkdtempSync(path.join(path.dirname(file), '.docker-'));
  const configName = layout === 'legacy' ? `${image.config.digest.slice(7)}.json` : `blobs/sha256/${image.config.digest.slice(7)}`;
  const layerNames: string[] = [];
  if (layout === 'legacy') {
    fs.writeFileSync(path.join(dir, configName), image.config.bytes);
    image.layers.forEach((l, i) => {
      const name = `${String(i).padStart(2, '0')}${crypto.randomBytes(4).toString('hex')}/layer.tar`;
      fs.mkdirSync(path.join(dir, path.dirname(name)));
      const raw = l.mediaType.endsWith('+gzip') ? zlib.gunzipSync(l.bytes) : l.bytes;
      fs.writeFileSync(path.join(dir, name), raw);
      layerNames.push(name);
    });
    const repos: Record<string, Record<string, string>> = {};
    for (const t of repoTags) {
      const c = t.lastIndexOf(':');
      (repos[t.slice(0, c)] ??= {})[t.slice(c + 1)] = 'x';
    }
    fs.writeFileSync(path.join(dir, 'repositories'), JSON.stringify(repos));
  } else {
    writeOciLayout(dir, [{ image, ref: repoTags[0] }]);
    for (const l of image.layers) layerNames.push(`blobs/sha256/${l.digest.slice(7)}`);
  }
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify([{ Config: configName, RepoTags: repoTags, Layers: layerNames }]));
  await tar.c({ file, cwd: dir, portable: true }, fs.readdirSync(dir));
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Tar entries for every file below a fixture directory (paths relative to it). */
export function entriesFromDir(dir: string, prefix = ''): TarEntry[] {
  const out: TarEntry[] = [];
  const walk = (rel: string) => {
    const abs = path.join(dir, rel);
    for (const name of fs.readdirSync(abs).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(path.join(dir, r));
      const p = prefix + r;
      if (st.isDirectory()) {
        out.push({ path: p, type: 'dir', mode: st.mode & 0o7777 });
        walk(r);
      } else if (st.isSymbolicLink()) out.push({ path: p, type: 'symlink', target: fs.readlinkSync(path.join(dir, r)) });
      else out.push({ path: p, type: 'file', mode: st.mode & 0o7777, content: fs.readFileSync(path.join(dir, r)) });
    }
  };
  walk('');
  return out;
}

/** busybox-static as a layer payload: bin/busybox plus symlinks for the applets named. */
export function busyboxEntries(applets: string[] = ['sh', 'echo', 'cat', 'sleep', 'httpd', 'wget', 'ls']): TarEntry[] {
  const bb = fs.readFileSync('/bin/busybox');
  return [
    { path: 'bin', type: 'dir' },
    { path: 'bin/busybox', type: 'file', mode: 0o755, content: bb },
    ...applets.map((a) => ({ path: `bin/${a}`, type: 'symlink' as const, target: 'busybox' })),
  ];
}

/**
 * Builds an image from a source dir (rootfs/, exports/) into tag TAG of an OCI layout with umoci,
 * the way a user would (demo/build-image.sh): busybox from the host, the source on top.
 */
export async function buildImageWithUmoci(srcDir: string, layout: string, tag: string): Promise<void> {
  await execa('bash', [path.join(projectDir, 'demo/build-image.sh'), srcDir, layout, tag]);
}

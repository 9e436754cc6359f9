/**
 * The registry transport (`docker://`): an ImageSource over the distribution HTTP API v2.
 * It serves manifests and blobs as the registry stores them; lib/image/pull.ts verifies them.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { SysctrError } from '../../errors.js';
import { formatReference, type ImageReference } from '../reference.js';
import { MediaTypes, type BlobOptions, type Descriptor, type ImageSource, type RawManifest } from '../types.js';
import { resumableBlobStream } from './blob.js';
import { RegistryClient, type RegistryOptions } from './client.js';
import { errorBody, readLimited } from './body.js';
import { httpError } from './errors.js';
import { attachmentLayers, attachmentTag, MAX_SIGNATURE_PAYLOAD, type SigstoreSignature } from '../../trust/sigstore.js';

export type { RegistryOptions } from './client.js';

const DEFAULT_MAX_MANIFEST_BYTES = 4 << 20;

/** Everything we can use, and schema 1 so that we can recognise it and say so. */
const MANIFEST_ACCEPT = [
  MediaTypes.ociIndex,
  MediaTypes.ociManifest,
  MediaTypes.dockerList,
  MediaTypes.dockerManifest,
  `${MediaTypes.dockerSchema1Signed};q=0.5`,
  `${MediaTypes.dockerSchema1};q=0.5`,
].join(', ');

const SCHEMA1_TYPES: string[] = [MediaTypes.dockerSchema1, MediaTypes.dockerSchema1Signed, 'application/json'];

/** `registry/repo:tag`, or `registry/repo@digest` for a digest reference. */
export function registryImageName(ref: ImageReference): string {
  return ref.digest ? formatReference({ ...ref, tag: undefined }) : formatReference(ref);
}

class RegistryImageSource implements ImageSource {
  readonly transport = 'docker';
  readonly description: string;
  private readonly name: string;

  constructor(
    private readonly ref: ImageReference,
    private readonly client: RegistryClient,
    private readonly opts: RegistryOptions,
  ) {
    this.name = registryImageName(ref);
    this.description = `docker://${this.name}`;
  }

  imageName(): string {
    return this.name;
  }

  async getManifest(digest?: string): Promise<RawManifest> {
    const wantDigest = digest ?? this.ref.digest;
    const tagOrDigest = wantDigest ?? this.ref.tag ?? 'latest';
    const what = digest ? `manifest ${digest} of ${this.name}` : this.name;
    const res = await this.client.get(`manifests/${tagOrDigest}`, { Accept: MANIFEST_ACCEPT }, what);
    if (!res.ok) {
      throw httpError(res.status, await errorBody(res, what), what);
    }
    const bytes = await readLimited(res, this.opts.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES, what, 'the manifest', this.client.timeoutMs);
    const computed = 'sha256:' + createHash('sha256').update(bytes).digest('hex');
    if (wantDigest && wantDigest.startsWith('sha256:') && computed !== wantDigest) {
      throw new SysctrError(`${what}: the registry served a manifest whose digest is ${computed}, not ${wantDigest}; refused`);
    }
    if (wantDigest && !wantDigest.startsWith('sha256:')) {
      throw new SysctrError(`${what}: only sha256 digests are supported`);
    }
    let parsed: { mediaType?: unknown; schemaVersion?: unknown } = {};
    try {
      parsed = JSON.parse(bytes.toString('utf8')) as typeof parsed;
    } catch {
      throw new SysctrError(`${what}: the registry served a manifest that is not JSON`);
    }
    const header = (res.headers.get('content-type') ?? '').split(';')[0].trim();
    const mediaType = header && header !== 'application/json' && header !== 'text/plain' ? header : typeof parsed.mediaType === 'string' ? parsed.mediaType : header;
    if (parsed.schemaVersion === 1 || (SCHEMA1_TYPES.includes(mediaType) && parsed.schemaVersion !== 2)) {
      throw new SysctrError(`${what}: schema 1 manifests are not supported; the image must be pushed again with a current tool (schema 2 or OCI)`);
    }
    if (!mediaType) throw new SysctrError(`${what}: the manifest has no media type (neither Content-Type nor "mediaType")`);
    return { bytes, mediaType, digest: computed };
  }

  async getBlob(desc: Descriptor, opts: BlobOptions = {}): Promise<Readable> {
    const what = `blob ${desc.digest} of ${this.name}`;
    const path = `blobs/${desc.digest}`;
    // identity: fetch would silently decode a Content-Encoding, and the digest is of the raw bytes
    const open = (offset: number) =>
      this.client.get(path, offset > 0 ? { Range: `bytes=${offset}-`, 'Accept-Encoding': 'identity' } : { 'Accept-Encoding': 'identity' }, what);
    const first = await open(0);
    if (first.status !== 200) {
      const body = first.status === 206 ? '' : await errorBody(first, what);
      if (first.status === 206) await first.body?.cancel();
      throw httpError(first.status, body, what);
    }
    return resumableBlobStream({
      open,
      first,
      size: typeof desc.size === 'number' ? desc.size : -1,
      what,
      retries: this.client.retries,
      retryDelayMs: this.opts.retryDelayMs ?? 250,
      timeoutMs: this.client.timeoutMs,
      onBytes: opts.onBytes,
      onRetry: this.opts.onRetry,
    });
  }

  async getSigstoreAttachment(manifestDigest: string): Promise<SigstoreSignature[]> {
    const tag = attachmentTag(manifestDigest);
    const what = `signature attachment ${tag} of ${this.name}`;
    const res = await this.client.get(`manifests/${tag}`, { Accept: `${MediaTypes.ociManifest}, ${MediaTypes.dockerManifest}` }, what);
    if (res.status === 404) {
      await res.body?.cancel();
      return [];
    }
    if (!res.ok) throw httpError(res.status, await errorBody(res, what), what);
    const bytes = await readLimited(res, DEFAULT_MAX_MANIFEST_BYTES, what, 'the manifest', this.client.timeoutMs);
    const out: SigstoreSignature[] = [];
    for (const l of attachmentLayers(bytes, what)) {
      const r = await this.client.get(`blobs/${l.digest}`, { 'Accept-Encoding': 'identity' }, what);
      if (!r.ok) throw httpError(r.status, await errorBody(r, what), what);
      const payload = await readLimited(r, MAX_SIGNATURE_PAYLOAD, what, 'a signature payload', this.client.timeoutMs);
      if ('sha256:' + createHash('sha256').update(payload).digest('hex') !== l.digest) throw new SysctrError(`${what}: layer ${l.digest} does not match its digest`);
      out.push({ mediaType: l.mediaType, signature: l.signature, payload });
    }
    return out;
  }

  async close(): Promise<void> {
    // fetch keeps no per-source state worth closing; idle keep-alive sockets time out on their own
  }
}

/**
 * Opens `ref` on its registry: checks the registry answers (and over which scheme), and learns
 * how it wants to be authenticated. Manifests and blobs are fetched on demand.
 */
export async function openRegistrySource(ref: ImageReference, opts: RegistryOptions = {}): Promise<ImageSource> {
  const client = new RegistryClient(ref, registryImageName(ref), opts);
  await client.ping();
  return new RegistryImageSource(ref, client, opts);
}

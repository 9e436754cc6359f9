/**
 * A registry source over several endpoints (registries.conf mirrors, then the primary): the
 * first that opens and serves the top-level manifest serves the whole pull. It keeps the
 * original reference's name and description, so that the image is recorded, and digests and
 * signatures are checked, against what the user asked for, not where it came from.
 */
import type { Readable } from 'node:stream';
import { SysctrError } from '../../errors.js';
import type { Endpoint } from '../registries-conf.js';
import type { BlobOptions, Descriptor, ImageSource, RawManifest } from '../types.js';
import type { SigstoreSignature } from '../../trust/sigstore.js';
import { openRegistrySource, registryImageName, type RegistryOptions } from './index.js';
import type { ImageReference } from '../reference.js';

class MirroredSource implements ImageSource {
  readonly transport = 'docker';
  readonly description: string;
  /** registry/repository of the mirror that served, undefined while none or the primary did */
  servedBy?: string;
  private inner?: ImageSource;
  /** index in endpoints of the one that served the manifest */
  private chosenAt = -1;
  /** later endpoints, opened when a blob is missing from the chosen one */
  private readonly fallbacks = new Map<number, Promise<ImageSource>>();

  constructor(
    private readonly original: ImageReference,
    private readonly endpoints: Endpoint[],
    private readonly opts: RegistryOptions,
  ) {
    this.description = `docker://${registryImageName(original)}`;
  }

  imageName(): string {
    return registryImageName(this.original);
  }

  private async chosen(): Promise<ImageSource> {
    if (!this.inner) await this.getManifest();
    return this.inner!;
  }

  private open(e: Endpoint): Promise<ImageSource> {
    // a mirror's own insecure flag; the primary's, or the command line's --tls-verify=false
    const tlsVerify = e.insecure ? false : this.opts.tlsVerify;
    return openRegistrySource(e.ref, { ...this.opts, tlsVerify, insecureHttp: this.opts.insecureHttp && !e.mirror });
  }

  async getManifest(digest?: string): Promise<RawManifest> {
    if (this.inner) return this.inner.getManifest(digest);
    const failures: string[] = [];
    let last: unknown;
    for (const [i, e] of this.endpoints.entries()) {
      let src: ImageSource | undefined;
      try {
        src = await this.open(e);
        const m = await src.getManifest(digest);
        this.inner = src;
        this.chosenAt = i;
        if (e.mirror) this.servedBy = `${e.ref.registry}/${e.ref.repository}`;
        return m;
      } catch (err) {
        await src?.close();
        last = err;
        failures.push(`${e.mirror ? 'mirror' : 'primary'} ${e.ref.registry}/${e.ref.repository}: ${(err as Error).message}`);
      }
    }
    if (this.endpoints.length === 1) throw last;
    throw new SysctrError(`${this.description}: no mirror nor the primary served it:\n  ${failures.join('\n  ')}`, {
      hint: last instanceof SysctrError ? last.hint : undefined,
    });
  }

  /**
   * From the endpoint that served the manifest; a blob it does not serve (a cache that lost it, a
   * 404 or 5xx) is asked of the next ones. Blobs are addressed by digest and pull.ts checks them,
   * so where they came from does not matter.
   */
  async getBlob(desc: Descriptor, opts?: BlobOptions): Promise<Readable> {
    const first = await this.chosen();
    try {
      return await first.getBlob(desc, opts);
    } catch (err) {
      let last = err;
      for (let i = this.chosenAt + 1; i < this.endpoints.length; i++) {
        try {
          if (!this.fallbacks.has(i)) this.fallbacks.set(i, this.open(this.endpoints[i]));
          return await (await this.fallbacks.get(i)!).getBlob(desc, opts);
        } catch (e) {
          last = e;
        }
      }
      throw last;
    }
  }

  async getSigstoreAttachment(manifestDigest: string): Promise<SigstoreSignature[]> {
    const src = await this.chosen();
    return src.getSigstoreAttachment ? src.getSigstoreAttachment(manifestDigest) : [];
  }

  async close(): Promise<void> {
    await this.inner?.close();
    for (const f of this.fallbacks.values()) await f.then((s) => s.close(), () => undefined);
  }
}

/** The source for `original` over `endpoints` (in order); opening happens at the first manifest. */
export function openMirroredSource(original: ImageReference, endpoints: Endpoint[], opts: RegistryOptions): ImageSource & { servedBy?: string } {
  return new MirroredSource(original, endpoints, opts);
}

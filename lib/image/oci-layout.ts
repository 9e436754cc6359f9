/**
 * The `oci:DIR[:REF]` transport (an OCI image layout directory) and `oci-archive:FILE[:REF]`
 * (the same layout in a tar, unpacked to a temp dir first).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { SysctrError } from '../errors.js';
import { isPermissionError } from '../fsutil.js';
import { unpackTarFile } from './archive-unpack.js';
import { normalizeName } from './reference.js';
import { attachmentLayers, attachmentTag, MAX_SIGNATURE_PAYLOAD, type SigstoreSignature } from '../trust/sigstore.js';
import { MediaTypes, type Descriptor, type ImageSource, type RawManifest } from './types.js';

const REF_ANNOTATION = 'org.opencontainers.image.ref.name';
/** `cosign save` marks its entries with this annotation instead of a ref name */
const COSIGN_KIND = 'kind';
const COSIGN_SIGS = 'dev.cosignproject.cosign/sigs';
const MAX_ATTACHMENT_MANIFEST = 4 << 20;

/**
 * Entries that are not images to pull but what is attached to one: cosign's sha256-HEX.sig /
 * .att / .sbom tags (as `skopeo copy` of the tag writes them) and `cosign save`'s kinds.
 */
function isAttachment(d: Descriptor): boolean {
  if (/^sha256-[0-9a-f]{64}\.(sig|att|sbom)$/.test(d.annotations?.[REF_ANNOTATION] ?? '')) return true;
  return /^dev\.cosignproject\.cosign\/(sigs|atts|sboms)$/.test(d.annotations?.[COSIGN_KIND] ?? '');
}

export class OciLayoutSource implements ImageSource {
  readonly transport: string;
  private chosen!: Descriptor;
  private entries: Descriptor[] = [];

  constructor(
    private readonly dir: string,
    private readonly ref: string | undefined,
    readonly description: string,
    private readonly nameHint: string,
    private readonly cleanup?: () => void,
    transport = 'oci',
  ) {
    this.transport = transport;
  }

  async init(): Promise<this> {
    try {
      fs.accessSync(path.join(this.dir, 'index.json'), fs.constants.R_OK);
    } catch (err) {
      if (isPermissionError(err)) throw new SysctrError(`${this.description}: cannot read index.json: permission denied`);
      throw new SysctrError(`${this.description}: no index.json: not an OCI image layout`);
    }
    const layout = readJsonFile(path.join(this.dir, 'oci-layout'), this.description, true) as { imageLayoutVersion?: string } | undefined;
    if (layout && typeof layout.imageLayoutVersion !== 'string') throw new SysctrError(`${this.description}: oci-layout has no imageLayoutVersion`);
    const index = readJsonFile(path.join(this.dir, 'index.json'), this.description) as { manifests?: Descriptor[]; mediaType?: string };
    if (index.mediaType && index.mediaType !== MediaTypes.ociIndex) {
      throw new SysctrError(`${this.description}: index.json has media type ${index.mediaType}, expected ${MediaTypes.ociIndex}`);
    }
    const manifests = Array.isArray(index.manifests) ? index.manifests : undefined;
    if (!manifests || manifests.length === 0) throw new SysctrError(`${this.description}: index.json lists no manifests`);
    this.entries = manifests;
    // a layout holding one image and its signature is still a layout of one image
    const images = manifests.filter((d) => !isAttachment(d));
    if (this.ref) {
      const m = manifests.filter((d) => d.annotations?.[REF_ANNOTATION] === this.ref);
      if (m.length === 0) {
        throw new SysctrError(`${this.description}: no image with ref "${this.ref}"`, { hint: `refs in this layout: ${refsOf(manifests)}` });
      }
      this.chosen = m[0];
    } else if (images.length === 0) {
      throw new SysctrError(`${this.description}: the layout holds only signatures and attachments, no image`, { hint: `entries: ${refsOf(manifests)}` });
    } else if (images.length === 1) {
      this.chosen = images[0];
    } else {
      throw new SysctrError(`${this.description}: the layout holds ${images.length} images; say which one`, {
        hint: `add :REF, one of: ${refsOf(images)}`,
      });
    }
    return this;
  }

  async getManifest(digest?: string): Promise<RawManifest> {
    const d = digest ?? this.chosen.digest;
    const bytes = this.readBlob(d);
    return { bytes, digest: d, mediaType: digest ? '' : this.chosen.mediaType ?? '' };
  }

  private blobFile(digest: string): string {
    const m = /^([a-z0-9]+):([a-zA-Z0-9=_-]+)$/.exec(digest);
    if (!m) throw new SysctrError(`${this.description}: bad digest "${digest}"`);
    return path.join(this.dir, 'blobs', m[1], m[2]);
  }

  private readBlob(digest: string): Buffer {
    try {
      return fs.readFileSync(this.blobFile(digest));
    } catch {
      throw new SysctrError(`${this.description}: blob ${digest} is missing`);
    }
  }

  async getBlob(desc: Descriptor) {
    const file = this.blobFile(desc.digest);
    if (!fs.existsSync(file)) throw new SysctrError(`${this.description}: blob ${desc.digest} is missing`);
    return fs.createReadStream(file, { highWaterMark: 1 << 20 });
  }

  /**
   * The sigstore signatures the layout carries for `manifestDigest`: the layers of the entry
   * named sha256-HEX.sig and of `cosign save`'s signature entries (whose payloads then name the
   * digest they are for; the policy checks it). Every blob is checked against its digest.
   */
  async getSigstoreAttachment(manifestDigest: string): Promise<SigstoreSignature[]> {
    const tag = attachmentTag(manifestDigest);
    const out: SigstoreSignature[] = [];
    for (const d of this.entries.filter((e) => e.annotations?.[REF_ANNOTATION] === tag || e.annotations?.[COSIGN_KIND] === COSIGN_SIGS)) {
      const what = `${this.description}: signature entry ${d.annotations?.[REF_ANNOTATION] ?? COSIGN_SIGS}`;
      const manifest = this.readVerified(d.digest, MAX_ATTACHMENT_MANIFEST, what);
      for (const l of attachmentLayers(manifest, what)) {
        out.push({ mediaType: l.mediaType, signature: l.signature, payload: this.readVerified(l.digest, MAX_SIGNATURE_PAYLOAD, what) });
      }
    }
    return out;
  }

  /** A small blob whose content must hash to its name (signatures are read before the pull verifies anything). */
  private readVerified(digest: string, max: number, what: string): Buffer {
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new SysctrError(`${what}: ${JSON.stringify(digest)} is not a sha256 digest`);
    const file = this.blobFile(digest);
    let size: number;
    try {
      size = fs.statSync(file).size;
    } catch {
      throw new SysctrError(`${what}: blob ${digest} is missing`);
    }
    if (size > max) throw new SysctrError(`${what}: blob ${digest} is ${size} bytes, more than a signature may be (${max})`);
    const bytes = fs.readFileSync(file);
    if (`sha256:${createHash('sha256').update(bytes).digest('hex')}` !== digest) throw new SysctrError(`${what}: blob ${digest} does not match its digest`);
    return bytes;
  }

  imageName(): string {
    const refName = this.chosen.annotations?.[REF_ANNOTATION];
    // A full reference as the ref name (skopeo writes these) names the image; a bare tag names
    // it under the layout's own name.
    if (refName && /[/]/.test(refName)) {
      try {
        return normalizeName(refName);
      } catch {
        /* not a reference: fall through */
      }
    }
    return localName(this.nameHint, refName ?? this.ref);
  }

  async close(): Promise<void> {
    this.cleanup?.();
  }
}

function refsOf(ds: Descriptor[]): string {
  const refs = ds.map((d) => d.annotations?.[REF_ANNOTATION]).filter(Boolean);
  return refs.length ? refs.join(', ') : '(none are named; the layout has no ref annotations)';
}

export function readJsonFile(file: string, where: string, optional = false): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (isPermissionError(err)) throw new SysctrError(`${where}: cannot read ${path.basename(file)}: permission denied`);
    if (optional) return undefined;
    throw new SysctrError(`${where}: ${path.basename(file)} is missing`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new SysctrError(`${where}: ${path.basename(file)} is not JSON (${(err as Error).message})`);
  }
}

/** localhost/<name>:<tag> for images from files, named after the file or directory. */
export function localName(hint: string, tag?: string): string {
  const base = path.basename(hint).replace(/(\.(oci|docker|image))?\.(tar|tgz|tar\.gz|tar\.zst)$/i, '').replace(/\.oci$/i, '').toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+|[._-]+$/g, '') || 'image';
  const t = tag && /^[\w][\w.-]{0,127}$/.test(tag) ? tag : 'latest';
  return `localhost/${base}:${t}`;
}

/** Unpacks an archive into a fresh temp dir (lib/image/archive-unpack.ts: nothing lands outside it). */
export async function unpackArchive(file: string, where: string): Promise<{ dir: string; cleanup: () => void }> {
  if (!fs.existsSync(file)) throw new SysctrError(`${where}: no such file ${file}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-archive-'));
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    await unpackTarFile(file, dir);
  } catch (err) {
    cleanup();
    throw new SysctrError(`${where}: cannot read the archive: ${(err as Error).message}`);
  }
  return { dir, cleanup };
}

export async function openOciLayout(dir: string, ref: string | undefined, description: string): Promise<OciLayoutSource> {
  return new OciLayoutSource(path.resolve(dir), ref, description, path.resolve(dir)).init();
}

export async function openOciArchive(file: string, ref: string | undefined, description: string): Promise<OciLayoutSource> {
  const { dir, cleanup } = await unpackArchive(file, description);
  try {
    return await new OciLayoutSource(dir, ref, description, file, cleanup, 'oci-archive').init();
  } catch (err) {
    cleanup();
    throw err;
  }
}


/**
 * The `docker-archive:FILE[:REF]` transport (alias `dockertar:`): what `docker save` writes, in
 * both layouts: the legacy one (manifest.json + repositories + <id>/layer.tar) and the newer one
 * (an OCI layout in the tar, with manifest.json pointing into blobs/sha256/). manifest.json is
 * read in both cases; an OCI manifest is synthesised from it, with layers verified by diff_id.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SysctrError } from '../errors.js';
import { sha256 } from '../fsutil.js';
import { localName, readJsonFile, unpackArchive } from './oci-layout.js';
import { normalizeName } from './reference.js';
import { MediaTypes, type Descriptor, type ImageSource, type RawManifest } from './types.js';

interface DockerSaveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

export class DockerArchiveSource implements ImageSource {
  readonly transport = 'docker-archive';
  private manifest!: RawManifest;
  private files = new Map<string, string>();
  private name!: string;

  constructor(
    private readonly dir: string,
    private readonly file: string,
    private readonly ref: string | undefined,
    readonly description: string,
    private readonly cleanup: () => void,
  ) {}

  init(): this {
    const list = readJsonFile(path.join(this.dir, 'manifest.json'), this.description) as DockerSaveEntry[];
    if (!Array.isArray(list) || list.length === 0 || !list.every((e) => typeof e?.Config === 'string' && Array.isArray(e.Layers))) {
      throw new SysctrError(`${this.description}: manifest.json is not a docker save manifest (a list of {Config, RepoTags, Layers})`);
    }
    let entry: DockerSaveEntry;
    if (this.ref) {
      const wanted = tryNormalize(this.ref);
      const found = list.find((e) => (e.RepoTags ?? []).some((t) => t === this.ref || tryNormalize(t) === wanted));
      if (!found) throw new SysctrError(`${this.description}: no image tagged ${this.ref}`, { hint: `tags in this archive: ${tagsOf(list)}` });
      entry = found;
      this.name = wanted ?? localName(this.file);
    } else if (list.length === 1) {
      entry = list[0];
      const tag = entry.RepoTags?.[0];
      this.name = (tag && tryNormalize(tag)) || localName(this.file);
    } else {
      throw new SysctrError(`${this.description}: the archive holds ${list.length} images; say which one`, {
        hint: `add :TAG, one of: ${tagsOf(list)}`,
      });
    }
    const configBytes = this.read(entry.Config);
    const config: Descriptor = { mediaType: MediaTypes.ociConfig, digest: `sha256:${sha256(configBytes)}`, size: configBytes.length };
    this.files.set(config.digest, entry.Config);
    const layers: Descriptor[] = entry.Layers.map((rel, i) => {
      const file = this.safeJoin(rel);
      if (!fs.existsSync(file)) throw new SysctrError(`${this.description}: layer ${rel} is missing from the archive`);
      // Layer blobs carry no digest of their own in this format (the newer layout names them by
      // it); their content is verified against the config's diff_ids.
      const m = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(rel);
      const digest = m ? `sha256:${m[1]}` : `unverified:layer${i}`;
      this.files.set(digest, rel);
      return { mediaType: MediaTypes.ociLayer, digest, size: fs.statSync(file).size };
    });
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config, layers }));
    this.manifest = { bytes, mediaType: MediaTypes.ociManifest, digest: `sha256:${sha256(bytes)}` };
    return this;
  }

  private safeJoin(rel: string): string {
    const p = path.resolve(this.dir, rel);
    if (!p.startsWith(this.dir + path.sep)) throw new SysctrError(`${this.description}: manifest.json names a file outside the archive: ${rel}`);
    return p;
  }

  private read(rel: string): Buffer {
    try {
      return fs.readFileSync(this.safeJoin(rel));
    } catch (err) {
      if (err instanceof SysctrError) throw err;
      throw new SysctrError(`${this.description}: ${rel} is missing from the archive`);
    }
  }

  async getManifest(digest?: string): Promise<RawManifest> {
    if (digest && digest !== this.manifest.digest) throw new SysctrError(`${this.description}: no manifest ${digest}`);
    return this.manifest;
  }

  async getBlob(desc: Descriptor) {
    const rel = this.files.get(desc.digest);
    if (!rel) throw new SysctrError(`${this.description}: blob ${desc.digest} is missing`);
    return fs.createReadStream(this.safeJoin(rel), { highWaterMark: 1 << 20 });
  }

  imageName(): string {
    return this.name;
  }

  async close(): Promise<void> {
    this.cleanup();
  }
}

function tryNormalize(s: string): string | undefined {
  try {
    return normalizeName(s);
  } catch {
    return undefined;
  }
}

function tagsOf(list: DockerSaveEntry[]): string {
  const tags = list.flatMap((e) => e.RepoTags ?? []);
  return tags.length ? tags.join(', ') : '(none: the images are untagged)';
}

export async function openDockerArchive(file: string, ref: string | undefined, description: string): Promise<DockerArchiveSource> {
  const { dir, cleanup } = await unpackArchive(file, description);
  try {
    return new DockerArchiveSource(fs.realpathSync(dir), file, ref, description, cleanup).init();
  } catch (err) {
    cleanup();
    throw err;
  }
}

/**
 * What a tag names now, without pulling: the manifest (through indexes, for the platform a pull
 * would choose) and its digest. Manifest requests only, never a blob: auto-update asks this of
 * every container's registry and must cost nothing when nothing changed.
 */
import { sha256 } from '../fsutil.js';
import { SysctrError } from '../errors.js';
import { parseManifest } from './manifest.js';
import { openSource, qualifySource, type SourceOptions } from './source.js';
import { formatPlatform, hostPlatform, parsePlatform, selectManifest } from './platform.js';

export interface Resolved {
  /** the image manifest's digest (an index's child for the platform), as ImageRecord.manifestDigest */
  digest: string;
  /** the platform the index entry named, when there was an index */
  platform?: string;
  /** the registries.conf mirror that answered, if one did */
  mirror?: string;
}

export async function resolveManifest(source: string, opts: SourceOptions & { platform?: string } = {}): Promise<Resolved> {
  const wanted = opts.platform ? parsePlatform(opts.platform) : hostPlatform();
  source = await qualifySource(source, opts);
  const src = await openSource(source, opts);
  try {
    const where = src.description;
    let raw = await src.getManifest();
    let platform: string | undefined;
    for (let depth = 0; ; depth++) {
      if (`sha256:${sha256(raw.bytes)}` !== raw.digest) throw new SysctrError(`${where}: the manifest does not match its digest ${raw.digest}`);
      const parsed = parseManifest(raw, where);
      if (parsed.kind !== 'index') break;
      if (depth > 4) throw new SysctrError(`${where}: indexes nested too deeply`);
      const desc = selectManifest(parsed.manifests, wanted, { compatible: !opts.platform, image: where });
      if (desc.platform) platform = formatPlatform(desc.platform);
      const child = await src.getManifest(desc.digest);
      raw = { ...child, digest: desc.digest, mediaType: child.mediaType || desc.mediaType };
    }
    const mirror = (src as { servedBy?: string }).servedBy;
    return { digest: raw.digest, ...(platform ? { platform } : {}), ...(mirror ? { mirror } : {}) };
  } finally {
    await src.close();
  }
}

/**
 * Finding an image in the store by what a user types: a full or short name (`etcd:3.5`,
 * `localhost/demo:1`, `demo:1`) or an id prefix. The store knows only normalised names; the
 * reading of short names is here, with the rest of reference parsing (reference.ts).
 */
import { SysctrError } from '../errors.js';
import type { ReadView } from '../store/store.js';
import type { ImageRecord } from '../store/types.js';
import { familiarName, normalizeName } from './reference.js';
import type { ImageConfig } from './types.js';

const hex = (digest: string) => digest.replace(/^sha256:/, '');

/** The image a reference names (id prefixes of at least 4 hex digits), or undefined. */
export function findImage(view: ReadView, ref: string): ImageRecord | undefined {
  const images = view.images.list();
  const exact = images.find((i) => i.name === ref);
  if (exact) return exact;
  let normalized: string | undefined;
  try {
    normalized = normalizeName(ref);
  } catch {
    normalized = undefined;
  }
  const byName = normalized ? images.find((i) => i.name === normalized) : undefined;
  if (byName) return byName;
  const idPrefix = /^(sha256:)?([0-9a-f]{4,64})$/.exec(ref)?.[2];
  if (idPrefix) {
    const byId = images.filter((i) => hex(i.id).startsWith(idPrefix));
    if (new Set(byId.map((i) => i.id)).size > 1) {
      throw new SysctrError(`image id prefix ${ref} is ambiguous`, { hint: 'give more digits' });
    }
    if (byId.length) return byId[0];
  }
  // A short name matches the last components of a full name: demo:1 -> localhost/demo:1.
  const withTag = ref.includes(':') || ref.includes('@') ? ref : `${ref}:latest`;
  const bySuffix = images.filter((i) => i.name.endsWith(`/${withTag}`) || familiarName(i.name) === withTag);
  if (bySuffix.length > 1) {
    throw new SysctrError(`image name ${ref} is ambiguous: ${bySuffix.map((i) => i.name).join(', ')}`, { hint: 'use the full name' });
  }
  return bySuffix[0];
}

export function resolveImage(view: ReadView, ref: string): ImageRecord {
  const img = findImage(view, ref);
  if (!img) {
    throw new SysctrError(`image ${ref} is not in the store`, { hint: `pull it first (sysctr pull ...), or see sysctr images list` });
  }
  return img;
}

/** The image's config, parsed from its blob. */
export function imageConfig(view: ReadView, rec: ImageRecord): ImageConfig {
  return JSON.parse(view.blobs.get(rec.id).toString('utf8')) as ImageConfig;
}

/**
 * Checks, at the start of a read, that an image found in an earlier read is still there (under
 * some name), with its layers: then what they list stays until the read ends.
 */
export function assertStillStored(view: ReadView, rec: ImageRecord, what: string): void {
  if (view.images.withId(rec.id).length && rec.layers.every((l) => view.layers.has(l))) return;
  throw new SysctrError(`image ${rec.name} was removed from the store while ${what}`, { hint: `pull it again (sysctr pull ${rec.source || rec.name}), then retry` });
}

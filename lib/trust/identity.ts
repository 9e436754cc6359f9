/**
 * signedIdentity: does the reference a signature names fit the image being pulled? Both are
 * normalised references (docker.io/library/... for short names), compared as containers/image
 * compares them.
 */
import { formatReference, parseReference, type ImageReference } from '../image/reference.js';
import type { SignedIdentity } from './policy.js';

const repoOf = (r: ImageReference) => `${r.registry}/${r.repository}`;
/** registry/repo:tag or registry/repo@digest (a digest wins, as a pull by digest ignores the tag) */
const exactOf = (r: ImageReference) => (r.digest ? `${repoOf(r)}@${r.digest}` : r.tag ? `${repoOf(r)}:${r.tag}` : undefined);

/** undefined when it matches, else why not. `image` undefined: the transport has no docker reference. */
export function identityMismatch(id: SignedIdentity, image: ImageReference | undefined, signedRef: string): string | undefined {
  let signed: ImageReference;
  try {
    signed = parseReference(signedRef);
  } catch {
    return `the signature names an invalid reference ${JSON.stringify(signedRef)}`;
  }
  const mismatch = (want: string) => `the signature is for ${formatReference(signed, { defaultTag: false })}, not ${want} (signedIdentity ${id.type})`;
  switch (id.type) {
    case 'exactReference': {
      const want = exactOf(parseReference(id.dockerReference));
      return exactOf(signed) === want ? undefined : mismatch(want ?? id.dockerReference);
    }
    case 'exactRepository': {
      const want = repoOf(parseReference(id.dockerRepository));
      return repoOf(signed) === want ? undefined : mismatch(want);
    }
  }
  if (!image) return `the image has no registry reference to match the signature's against (signedIdentity ${id.type}); use exactReference or exactRepository`;
  switch (id.type) {
    case 'matchExact': {
      const want = exactOf(image);
      return want !== undefined && exactOf(signed) === want ? undefined : mismatch(want ?? repoOf(image));
    }
    case 'matchRepository':
      return repoOf(signed) === repoOf(image) ? undefined : mismatch(repoOf(image));
    case 'matchRepoDigestOrExact':
      return repoDigestOrExact(image, signed) ? undefined : mismatch(exactOf(image) ?? repoOf(image));
    case 'remapIdentity': {
      const remapped = remap(image, id.prefix, id.signedPrefix);
      if (!remapped) return `the image's reference ${exactOf(image)} could not be remapped from ${id.prefix} to ${id.signedPrefix}`;
      return repoDigestOrExact(remapped, signed) ? undefined : mismatch(exactOf(remapped) ?? repoOf(remapped));
    }
  }
}

/** By digest: any signature for the repository; by tag: the very same tag. */
function repoDigestOrExact(image: ImageReference, signed: ImageReference): boolean {
  if (image.digest) return repoOf(signed) === repoOf(image);
  const want = exactOf(image);
  return want !== undefined && exactOf(signed) === want;
}

/** The image reference with `prefix` (a host, host/namespace or repository) replaced by `signedPrefix`. */
function remap(image: ImageReference, prefix: string, signedPrefix: string): ImageReference | undefined {
  const s = exactOf(image) ?? repoOf(image);
  if (!s.startsWith(prefix)) return image;
  const next = s.charAt(prefix.length);
  const boundary = next === '' || next === '/' || (prefix.includes('/') && (next === ':' || next === '@'));
  if (!boundary) return image;
  try {
    return parseReference(signedPrefix + s.slice(prefix.length));
  } catch {
    return undefined;
  }
}

/** Manifests and indexes: recognise, validate, and refuse what sysctr does not support. */
import { SysctrError } from '../errors.js';
import { MediaTypes, type Descriptor, type RawManifest } from './types.js';

export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export type ParsedManifest =
  | { kind: 'index'; mediaType: string; manifests: Descriptor[] }
  | { kind: 'manifest'; mediaType: string; config: Descriptor; layers: Descriptor[]; annotations?: Record<string, string> };

const INDEX_TYPES = new Set<string>([MediaTypes.ociIndex, MediaTypes.dockerList]);
const MANIFEST_TYPES = new Set<string>([MediaTypes.ociManifest, MediaTypes.dockerManifest]);
const SCHEMA1_TYPES = new Set<string>([MediaTypes.dockerSchema1, MediaTypes.dockerSchema1Signed, 'application/json']);
const LAYER_TYPES = new Set<string>([
  MediaTypes.ociLayer,
  MediaTypes.ociLayerGzip,
  MediaTypes.ociLayerZstd,
  MediaTypes.ociLayerNondistGzip,
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  MediaTypes.dockerLayerGzip,
  MediaTypes.dockerForeignLayerGzip,
  'application/vnd.docker.image.rootfs.diff.tar',
]);

/** Sizes are checked against what is read, so a size that is negative, fractional or past 2^53 is no size at all. */
function isDescriptor(d: unknown): d is Descriptor {
  const x = d as Descriptor;
  return (
    !!x && typeof x.digest === 'string' && /^[a-z0-9]+:[a-zA-Z0-9=_-]+$/.test(x.digest) && Number.isSafeInteger(x.size) && x.size >= 0
  );
}

/** A descriptor whose size is a number but not a byte count is named, not just called invalid. */
function refuseBadSizes(list: unknown[], where: string, what: string): void {
  for (const d of list) {
    const x = d as { digest?: unknown; size?: unknown } | null;
    if (x && typeof x.size === 'number' && !(Number.isSafeInteger(x.size) && x.size >= 0)) {
      throw new SysctrError(`${where}: ${what} ${String(x.digest)} has size ${x.size}, which is not a byte count; refused`);
    }
  }
}

export function parseManifest(raw: RawManifest, where: string): ParsedManifest {
  if (raw.bytes.length > MAX_MANIFEST_BYTES) {
    throw new SysctrError(`${where}: manifest is ${raw.bytes.length} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(raw.bytes.toString('utf8'));
  } catch (err) {
    throw new SysctrError(`${where}: manifest ${raw.digest} is not JSON (${(err as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new SysctrError(`${where}: manifest ${raw.digest} is not a JSON object`);
  if (doc.schemaVersion === 1 || SCHEMA1_TYPES.has(raw.mediaType) && doc.schemaVersion !== 2) {
    throw new SysctrError(`${where}: Docker schema 1 manifests are not supported`, {
      hint: 'convert the image to schema 2 or OCI (e.g. skopeo copy --format v2s2 or --format oci)',
    });
  }
  const mediaType = (typeof doc.mediaType === 'string' && doc.mediaType) || raw.mediaType || (doc.manifests ? MediaTypes.ociIndex : MediaTypes.ociManifest);
  if (raw.mediaType && doc.mediaType && raw.mediaType !== doc.mediaType && !SCHEMA1_TYPES.has(raw.mediaType)) {
    throw new SysctrError(`${where}: manifest says media type ${doc.mediaType} but was served as ${raw.mediaType}`);
  }
  if (INDEX_TYPES.has(mediaType)) {
    if (Array.isArray(doc.manifests)) refuseBadSizes(doc.manifests, where, 'manifest');
    if (!Array.isArray(doc.manifests) || !doc.manifests.every(isDescriptor)) {
      throw new SysctrError(`${where}: index ${raw.digest} has no valid "manifests" list`);
    }
    return { kind: 'index', mediaType, manifests: doc.manifests as Descriptor[] };
  }
  if (!MANIFEST_TYPES.has(mediaType)) {
    throw new SysctrError(`${where}: unsupported manifest media type "${mediaType}"`, {
      hint: `expected one of ${[...INDEX_TYPES, ...MANIFEST_TYPES].join(', ')}`,
    });
  }
  refuseBadSizes([doc.config, ...(Array.isArray(doc.layers) ? doc.layers : [])], where, 'blob');
  if (!isDescriptor(doc.config)) throw new SysctrError(`${where}: manifest ${raw.digest} has no valid "config" descriptor`);
  if (!Array.isArray(doc.layers) || !doc.layers.every(isDescriptor)) {
    throw new SysctrError(`${where}: manifest ${raw.digest} has no valid "layers" list`);
  }
  for (const l of doc.layers as Descriptor[]) {
    if (l.mediaType && !LAYER_TYPES.has(l.mediaType)) {
      throw new SysctrError(`${where}: layer ${l.digest} has unsupported media type "${l.mediaType}"`);
    }
  }
  return {
    kind: 'manifest',
    mediaType,
    config: doc.config as Descriptor,
    layers: doc.layers as Descriptor[],
    annotations: doc.annotations as Record<string, string> | undefined,
  };
}

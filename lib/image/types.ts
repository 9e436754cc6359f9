import type { Readable } from 'node:stream';
import type { SigstoreSignature } from '../trust/sigstore.js';

/** OCI content descriptor (image-spec descriptor.md). */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
  urls?: string[];
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

/** Raw manifest bytes as the source served them, with the digest they hash to. */
export interface RawManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

export interface BlobOptions {
  /** report bytes as they arrive (for progress) */
  onBytes?: (n: number) => void;
}

/**
 * One source of images: an OCI layout, an archive, a registry. Modelled on containers/image's
 * ImageSource: a source serves manifests and blobs; the pull logic (lib/image/pull.ts) picks the
 * platform, verifies every byte and writes the store. Sources verify nothing themselves.
 */
export interface ImageSource {
  /** the transport name: oci, oci-archive, docker-archive, docker */
  readonly transport: string;
  /** how the user wrote the source, for messages */
  readonly description: string;
  /**
   * The top-level manifest or index for the reference (digest undefined), or a manifest by digest
   * (a child of an index).
   */
  getManifest(digest?: string): Promise<RawManifest>;
  /** A stream of the blob's bytes exactly as stored (compressed layers stay compressed). */
  getBlob(desc: Descriptor, opts?: BlobOptions): Promise<Readable>;
  /** The reference name the pulled image is recorded under, e.g. docker.io/library/etcd:3.5 */
  imageName(): string;
  /**
   * Registries only: the layers of the `sha256-HEX.sig` sigstore attachment of a manifest,
   * their blobs digest-checked and nothing else ([] when there is none).
   */
  getSigstoreAttachment?(manifestDigest: string): Promise<SigstoreSignature[]>;
  /** Release temp dirs, connections. */
  close(): Promise<void>;
}

export const MediaTypes = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

/** The image config fields sysctr reads (image-spec config.md). */
export interface ImageConfig {
  created?: string;
  architecture?: string;
  os?: string;
  variant?: string;
  config?: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    Labels?: Record<string, string> | null;
    ExposedPorts?: Record<string, unknown>;
    StopSignal?: string;
    /** a Dockerfile VOLUME: mount point -> {} (a data volume under the default config) */
    Volumes?: Record<string, unknown> | null;
    /** Docker's HEALTHCHECK (podman/buildah --format docker): durations in nanoseconds */
    Healthcheck?: { Test?: string[] | null; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number } | null;
  };
  rootfs: { type: string; diff_ids: string[] };
}

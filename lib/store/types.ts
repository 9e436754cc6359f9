/**
 * The store's public shapes. The implementation lives beside this file (lib/store/store.ts);
 * other folders use only these types, Store.read / Store.write and the views they hand out.
 */

/** An image known to the store under one reference name. */
export interface ImageRecord {
  /** normalised reference, e.g. docker.io/library/etcd:3.5 or localhost/demo:1 */
  name: string;
  /** image id: the config blob's digest (sha256:...) */
  id: string;
  /** digest of the image manifest (not of an index) */
  manifestDigest: string;
  /** uncompressed layer digests, base first (the config's rootfs.diff_ids) */
  layers: string[];
  /** sum of the layers' compressed sizes */
  size: number;
  /** os/arch[/variant] */
  platform: string;
  /** image config's created */
  created?: string;
  /** when it entered the store */
  pulled: string;
  /** the source it was pulled from, as written by the user */
  source: string;
  labels: Record<string, string>;
  /** what the signature policy verified at pull, with the signatures (lib/trust/record.ts's TrustRecord) */
  trust?: object;
}

/** One entry of a layer's tree listing (the layer tar, parsed and stored). */
export interface TreeEntry {
  /** path relative to the rootfs, no leading slash, no trailing slash, e.g. "usr/bin/env" */
  path: string;
  /** f file, d dir, l symlink, h hardlink, w whiteout (path is the removed name), o opaque dir marker,
   *  x device node / fifo / socket (never written; counted) */
  type: 'f' | 'd' | 'l' | 'h' | 'w' | 'o' | 'x';
  mode: number;
  uid: number;
  gid: number;
  /** mtime, seconds */
  mtime: number;
  /** file: object id (sha256 hex) */
  object?: string;
  /** file: size in bytes */
  size?: number;
  /** symlink: target as written; hardlink: target path relative to the rootfs */
  link?: string;
  /** extended attributes (name -> base64 value) */
  xattrs?: Record<string, string>;
}

export interface CheckoutStats {
  files: number;
  linked: number;
  copied: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  /** device nodes, fifos and sockets in the layers, not written */
  skipped: number;
}

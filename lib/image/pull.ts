/**
 * Pulling: source -> store, verifying everything. The manifest (through indexes, choosing the
 * platform), then the config, then each layer not yet in the store, streamed with bounded
 * parallelism through hash -> decompress -> hash -> tar -> objects. Both digests of every layer are
 * checked, the merged tree is checked for escapes, and only then is the image recorded. On any
 * failure, what this pull added is removed again: the store is as it was.
 */
import fs from 'node:fs';
import { SysctrError } from '../errors.js';
import { sha256 } from '../fsutil.js';
import { importLayerStream, LayerFormatError } from '../store/layer-import.js';
import { ObjectWriter } from '../store/object-writer.js';
import { CorruptStreamError } from '../layer/decompress.js';
import { isNoSpace, noSpaceError } from '../store/space.js';
import { UnsafePathError } from '../layer/safepath.js';
import { LinkTracker } from '../rootfs/tree.js';
import readline from 'node:readline';
import type { ReadView, Store } from '../store/store.js';
import { flattenAtPull } from '../rootfs/merged.js';
import type { ImageRecord } from '../store/types.js';
import { parseManifest } from './manifest.js';
import { openSource, qualifySource, type SourceOptions } from './source.js';
import type { Descriptor, ImageConfig, ImageSource, RawManifest } from './types.js';
import { resolvePaths, type TrustPaths } from '../paths.js';
import type { TrustRecord } from '../trust/record.js';
import { checkAtPull, trustRecordOf } from './trust.js';
import { formatPlatform, hostPlatform, parsePlatform, selectManifest } from './platform.js';

export type PullEvent =
  | { type: 'resolved'; name: string; manifest: string; layers: Array<{ digest: string; size: number; present: boolean }> }
  | { type: 'layer-start'; digest: string; size: number }
  | { type: 'layer-bytes'; digest: string; bytes: number }
  | { type: 'layer-done'; digest: string; files: number }
  | { type: 'layer-skip'; digest: string }
  | { type: 'retry'; what: string; attempt: number; delayMs: number; reason: string };

export interface PullOptions extends SourceOptions {
  /** os/arch[/variant]; default the host's */
  platform?: string;
  /** record the image under this name instead of the source's */
  name?: string;
  /** layers fetched at once */
  parallel?: number;
  onEvent?: (e: PullEvent) => void;
  /** the signature policy to enforce (default: the system's, as resolvePaths finds it) */
  trust?: TrustPaths;
  /** resolve and check, store nothing: the result says what a pull would bring */
  dryRun?: boolean;
}

export interface PullResult {
  image: ImageRecord;
  upToDate: boolean;
  /** layers transferred (not already in the store) */
  fetched: number;
  /** the registries.conf mirror that served the pull (registry/repository), if one did */
  mirror?: string;
  /** dryRun: `image` is what would be stored (it is not), `fetched` the layers it would fetch */
  dryRun?: boolean;
}

const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

export async function pullImage(store: Store, source: string, opts: PullOptions = {}): Promise<PullResult> {
  const wanted = opts.platform ? parsePlatform(opts.platform) : hostPlatform();
  // a short name resolved by registries.conf is, from here on, the reference the user asked for
  source = await qualifySource(source, opts);
  const src = await openSource(source, { ...opts, onRetry: (r) => opts.onEvent?.({ type: 'retry', ...r }) });
  try {
    const r = await pullFrom(store, src, source, wanted, opts);
    const mirror = (src as { servedBy?: string }).servedBy;
    return mirror ? { ...r, mirror } : r;
  } finally {
    await src.close();
  }
}

async function readAll(stream: AsyncIterable<Buffer>, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    n += c.length;
    if (n > limit) throw new SysctrError(`${what} is larger than ${limit} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

function verifyDigest(bytes: Buffer, digest: string, what: string): void {
  const got = `sha256:${sha256(bytes)}`;
  if (!digest.startsWith('sha256:')) throw new SysctrError(`${what}: unsupported digest algorithm in ${digest}`);
  if (got !== digest) throw new SysctrError(`${what}: content does not match its digest ${digest} (got ${got})`);
}

async function pullFrom(store: Store, src: ImageSource, source: string, wanted: ReturnType<typeof hostPlatform>, opts: PullOptions): Promise<PullResult> {
  const where = src.description;
  // Manifest, through any number of nested indexes.
  let raw: RawManifest = await src.getManifest();
  verifyDigest(raw.bytes, raw.digest, `${where}: manifest`);
  // the policy decides on the top-level manifest, which is what signatures sign
  const trust = await checkAtPull(src, source, raw.digest, opts.trust ?? resolvePaths().trust);
  let parsed = parseManifest(raw, where);
  let platformSeen: string | undefined;
  for (let depth = 0; parsed.kind === 'index'; depth++) {
    if (depth > 4) throw new SysctrError(`${where}: indexes nested too deeply`);
    const desc = selectManifest(parsed.manifests, wanted, { compatible: !opts.platform, image: where });
    if (desc.platform) platformSeen = formatPlatform(desc.platform);
    raw = await src.getManifest(desc.digest);
    verifyDigest(raw.bytes, desc.digest, `${where}: manifest ${desc.digest}`);
    raw = { ...raw, digest: desc.digest, mediaType: raw.mediaType || desc.mediaType };
    parsed = parseManifest(raw, where);
  }
  const manifest = parsed;

  // What the store has already, in one read: the config, the image by that name, the layers.
  const name = opts.name ?? src.imageName();
  const known = await store.read((view) => ({
    config: view.blobs.has(manifest.config.digest) ? view.blobs.get(manifest.config.digest) : undefined,
    existing: view.images.get(name),
    layers: new Set(view.layers.list()),
  }));
  // Config: small, read whole, verified.
  const configBytes = known.config ?? await readAll(await src.getBlob(manifest.config), MAX_CONFIG_BYTES, `${where}: config`);
  verifyDigest(configBytes, manifest.config.digest, `${where}: config`);
  let config: ImageConfig;
  try {
    config = JSON.parse(configBytes.toString('utf8'));
  } catch (err) {
    throw new SysctrError(`${where}: image config is not JSON (${(err as Error).message})`);
  }
  const diffIds = config.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.length !== manifest.layers.length) {
    throw new SysctrError(`${where}: the config lists ${diffIds?.length ?? 0} diff_ids for ${manifest.layers.length} layers`);
  }
  for (const d of diffIds) if (!/^sha256:[0-9a-f]{64}$/.test(d)) throw new SysctrError(`${where}: bad diff_id ${d}`);

  const existing = known.existing;
  if (existing && existing.manifestDigest === raw.digest && diffIds.every((d) => known.layers.has(d)) && sameTrust(existing, trust)) {
    return { image: existing, upToDate: true, fetched: 0 };
  }
  const recordOf = (): ImageRecord => ({
    name,
    id: manifest.config.digest,
    manifestDigest: raw.digest,
    layers: diffIds,
    size: manifest.layers.reduce((s, l) => s + l.size, 0),
    platform: platformSeen ?? [config.os ?? 'linux', config.architecture ?? 'unknown', config.variant].filter(Boolean).join('/'),
    created: config.created,
    pulled: new Date().toISOString(),
    source,
    labels: config.config?.Labels ?? {},
    trust,
  });
  // --dry-run: the manifest and config were read and checked (and the policy asked); nothing is stored
  if (opts.dryRun) return { image: recordOf(), upToDate: false, fetched: diffIds.filter((d) => !known.layers.has(d)).length, dryRun: true };
  opts.onEvent?.({
    type: 'resolved',
    name,
    manifest: raw.digest,
    layers: manifest.layers.map((l, i) => ({ digest: l.digest, size: l.size, present: known.layers.has(diffIds[i]) })),
  });

  return store.write(async (view) => {
    const addedLayers: string[] = [];
    let fetched = 0;
    // One writer thread for all the layers fetched at once: memory stays flat however many.
    const writer = new ObjectWriter(view.objects.dir);
    try {
      await forEachLimit(manifest.layers, opts.parallel ?? 3, async (desc, i) => {
        const diffId = diffIds[i];
        if (view.layers.has(diffId)) return opts.onEvent?.({ type: 'layer-skip', digest: desc.digest });
        opts.onEvent?.({ type: 'layer-start', digest: desc.digest, size: desc.size });
        fetched++;
        const stream = await src.getBlob(desc);
        // Bytes are counted where every transport's stream passes: the import.
        const onBytes = (n: number) => opts.onEvent?.({ type: 'layer-bytes', digest: desc.digest, bytes: n });
        const layer = await importLayerStream(view.objects.dir, stream as AsyncIterable<Buffer>, writer, { onBytes }).catch((err) => {
          throw layerError(err, desc, where);
        });
        const { blob, blobSize, diff } = layer.digests;
        if (desc.digest.startsWith('sha256:') && `sha256:${blob}` !== desc.digest) {
          throw new SysctrError(`${where}: layer ${desc.digest}: content does not match its digest (got sha256:${blob})`, {
            hint: 'the blob is corrupt or was tampered with; nothing was stored',
          });
        }
        if (desc.digest.startsWith('sha256:') && desc.size >= 0 && blobSize !== desc.size) {
          throw new SysctrError(`${where}: layer ${desc.digest}: ${blobSize} bytes, the manifest says ${desc.size}`);
        }
        if (`sha256:${diff}` !== diffId) {
          throw new SysctrError(`${where}: layer ${desc.digest}: uncompressed content does not match the config's diff_id ${diffId} (got sha256:${diff})`);
        }
        const blobs = desc.digest.startsWith('sha256:') ? [desc.digest] : [];
        if (view.layers.commit({ diffId, blobs, size: blobSize, files: layer.entries, imported: new Date().toISOString() }, layer.treeFile)) {
          addedLayers.push(diffId);
        }
        opts.onEvent?.({ type: 'layer-done', digest: desc.digest, files: layer.entries });
      });
      await writer.finish();
      try {
        await checkLinks(view, diffIds);
      } catch (err) {
        throw layerError(err, undefined, where);
      }
      view.blobs.put(manifest.config.digest, configBytes);
      view.blobs.put(raw.digest, raw.bytes);
      const image = recordOf();
      flattenAtPull(view, image);
      view.images.put(image);
      return { image, upToDate: false, fetched };
    } catch (err) {
      const addedObjects = await writer.abort();
      for (const d of addedLayers) view.layers.remove(d);
      for (const id of addedObjects) view.objects.remove(id);
      if (isNoSpace(err)) {
        const file = err as { neededBytes?: number; message: string };
        if (file.neededBytes) throw noSpaceError(store.dir, { bytes: file.neededBytes, what: where, why: `a file in it: ${file.message}` }, err);
        const bytes = manifest.layers.reduce((n, l, i) => (view.layers.has(diffIds[i]) ? n : n + l.size), 0);
        throw noSpaceError(store.dir, { bytes, what: where, why: 'its layers as fetched, compressed; more unpacked' }, err);
      }
      throw err;
    }
  });
}

/** A re-pull records the image again when what was verified changed (other signatures or keys). */
function sameTrust(rec: ImageRecord, t: TrustRecord): boolean {
  const old = trustRecordOf(rec);
  return JSON.stringify(old?.signatures) === JSON.stringify(t.signatures) && JSON.stringify(old?.verdict) === JSON.stringify(t.verdict);
}

function layerError(err: unknown, desc: Descriptor | undefined, where: string): unknown {
  const what = desc ? `${where}: layer ${desc.digest}` : where;
  if (err instanceof UnsafePathError) return new SysctrError(`${what}: refused: ${err.message}`, { hint: 'the image is unsafe; nothing was stored' });
  if (isNoSpace(err)) return err; // said with the space needed, once the pull is cleaned up
  if (err instanceof CorruptStreamError || err instanceof LayerFormatError) return new SysctrError(`${what}: ${err.message}`);
  return err;
}

/** Refuses images whose layers, merged, would write through a symlink out of the root. */
async function checkLinks(view: ReadView, diffIds: string[]): Promise<void> {
  const tracker = new LinkTracker();
  for (const d of diffIds) {
    const lines = readline.createInterface({ input: fs.createReadStream(view.layers.treeFile(d)), crlfDelay: Infinity });
    for await (const line of lines) if (line) tracker.check(JSON.parse(line));
  }
}

async function forEachLimit<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (failed === undefined && next < items.length) {
      const i = next++;
      try {
        await fn(items[i], i);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
}


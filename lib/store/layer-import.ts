/**
 * Importing a layer: the blob's bytes are hashed, decompressed, hashed again and parsed as a tar
 * in one pass; every regular file becomes a store object; the result is the layer's tree listing.
 * Nothing is trusted: paths are normalised and refused when unsafe, and the caller checks both
 * digests before the layer is committed.
 */
import fs from 'node:fs';
import { humanBytes } from './space.js';
import type { ObjectDir } from './objects.js';
import { objectHasher } from './objects.js';
import { SLAB_BYTES, type ObjectWriter } from './object-writer.js';
import type { TreeEntry } from './types.js';
import { uncompressedStream, type StreamDigests } from '../layer/decompress.js';
import { basename, dirname, normalizeEntryPath, UnsafePathError } from '../layer/safepath.js';
import { TarFormatError, TarReader, type EntrySink, type TarEntryHeader } from '../layer/tar-reader.js';
import { idChecker } from '../userns.js';

/** Files up to this size are hashed in memory before anything is written. */
const SMALL_FILE = SLAB_BYTES;
const EMPTY = new Uint8Array(0);

export interface ImportedLayer {
  /** the layer's tree listing, one JSON entry a line, in a temp file for Store.commitLayer */
  treeFile: string;
  entries: number;
  digests: StreamDigests;
}

export class LayerFormatError extends Error {}

/**
 * Imports one layer. Objects go through `writer`, which the caller owns: it may serve several layers
 * at once, and it knows every object created, for the caller to remove again if the pull fails.
 */
export async function importLayerStream(
  objects: ObjectDir,
  input: AsyncIterable<Buffer>,
  writer: ObjectWriter,
  opts: { onBytes?: (n: number) => void } = {},
): Promise<ImportedLayer> {
  const { stream, done } = uncompressedStream(input, opts.onBytes);
  // The listing goes to disk as it grows: memory does not grow with the layer.
  const entries = new ListingWriter(`${objects.tmpDirPath}/tree-${process.pid}-${Math.random().toString(36).slice(2)}.jsonl`);
  let failure: Error | undefined;
  /** gathers a small file that arrives in pieces */
  let scratch = Buffer.alloc(0);
  const fail = (e: Error) => {
    failure ??= e;
  };

  const reader = new TarReader(onEntry);
  // in a user's namespace (lib/userns.ts) an owner it does not map can be neither stored nor checked out
  const checkIds = idChecker();

  function onEntry(h: TarEntryHeader): EntrySink | undefined {
    const path = normalizeEntryPath(h.name);
    const { mode, uid, gid, mtime } = h;
    const base = basename(path);
    if (base.startsWith('.wh.')) {
      if (base === '.wh..wh..opq') entries.push({ path: dirname(path), type: 'o', mode: 0, uid: 0, gid: 0, mtime: 0 });
      else if (!base.startsWith('.wh..wh.')) {
        const dir = dirname(path);
        const name = base.slice(4);
        entries.push({ path: dir ? `${dir}/${name}` : name, type: 'w', mode: 0, uid: 0, gid: 0, mtime: 0 });
      }
      return undefined;
    }
    checkIds?.(uid, gid, path);
    if (!path && h.type !== 'dir') throw new UnsafePathError(`entry "${h.name}" (a ${h.type}) replaces the root directory`);
    switch (h.type) {
      case 'file':
        return readFile({ path, type: 'f', mode, uid, gid, mtime, size: h.size, xattrs: h.xattrs });
      case 'dir':
        // "/" or "./": the root directory's own mode and owner, as umoci applies them
        entries.push({ path, type: 'd', mode, uid, gid, mtime });
        return undefined;
      case 'symlink':
        entries.push({ path, type: 'l', mode: 0o777, uid, gid, mtime, link: h.linkname });
        return undefined;
      case 'hardlink': {
        const target = normalizeEntryPath(h.linkname, `hardlink target of "${h.name}"`);
        if (!target) throw new UnsafePathError(`hardlink "${h.name}" points at the root directory`);
        entries.push({ path, type: 'h', mode, uid, gid, mtime, link: target });
        return undefined;
      }
      default:
        // devices and fifos: counted, never made
        entries.push({ path, type: 'x', mode, uid, gid, mtime });
        return undefined;
    }
  }

  let free: number | undefined;
  const storeFree = () => {
    if (free === undefined) {
      try {
        const st = fs.statfsSync(objects.tmpDirPath);
        free = st.bavail * st.bsize;
      } catch {
        free = Number.MAX_SAFE_INTEGER;
      }
    }
    return free;
  };

  function readFile(te: TreeEntry): EntrySink {
    const size = te.size!;
    const meta = { mode: te.mode, uid: te.uid, gid: te.gid, size, xattrs: te.xattrs };
    const hash = objectHasher(meta);
    const done = (id: string) => {
      te.object = id;
      entries.push(te);
    };
    if (size <= SMALL_FILE) {
      // Most small files arrive in one piece, handed on as it is; the others are gathered first.
      let first: Buffer | undefined;
      let off = 0;
      return {
        data(c: Buffer) {
          hash.update(c);
          if (off === 0 && c.length === size) first = c;
          else {
            if (off === 0) scratch = scratch.length >= size ? scratch : Buffer.allocUnsafe(Math.max(size, 64 * 1024));
            c.copy(scratch, off);
          }
          off += c.length;
        },
        end() {
          // written while the piece is certainly still as the reader gave it
          const id = hash.digest('hex');
          writer.writeSmall(id, size === 0 ? EMPTY : (first ?? scratch.subarray(0, size)), meta, te.mtime);
          done(id);
        },
      };
    }
    // A sparse entry can name a size its bytes on the wire do not bound (a few KB of map for
    // exabytes of holes): no file may be larger than what the store's filesystem has free.
    if (size > storeFree()) {
      // said as a full disk (lib/store/space.ts), with this file as what is needed
      throw Object.assign(new LayerFormatError(`"${te.path}", ${humanBytes(size)} with any sparse holes, does not fit`), { code: 'ENOSPC', neededBytes: size });
    }
    const large = writer.openLarge(meta);
    return {
      data(c: Buffer) {
        hash.update(c);
        large.chunk(c);
      },
      end() {
        const id = hash.digest('hex');
        large.commit(id, te.mtime);
        done(id);
      },
    };
  }

  try {
    for await (const chunk of stream) {
      reader.write(chunk);
      // a sparse file's holes come a few MiB per turn, so the writer is waited for in between
      for (let more = true; more; more = reader.pump()) {
        const wait = writer.backpressure();
        if (wait) await wait;
        if (writer.error) throw writer.error;
      }
    }
    reader.end();
  } catch (e) {
    fail(e instanceof TarFormatError ? new LayerFormatError(`bad tar: ${e.message}`) : (e as Error));
  }
  if (failure) {
    await writer.drain().catch(() => undefined);
    entries.discard();
    throw failure;
  }
  try {
    // the listing is committed only after every object it names is in place
    await writer.drain();
  } catch (e) {
    entries.discard();
    throw e;
  }
  entries.close();
  return { treeFile: entries.file, entries: entries.count, digests: done() };
}

/** Appends tree entries to a JSONL file through a small buffer. */
class ListingWriter {
  private fd: number;
  private buf: string[] = [];
  private bufLen = 0;
  count = 0;

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'wx', 0o600);
  }

  push(e: TreeEntry): void {
    const line = JSON.stringify(e);
    this.buf.push(line);
    this.bufLen += line.length;
    this.count++;
    if (this.bufLen > 256 * 1024) this.flush();
  }

  private flush(): void {
    if (!this.buf.length) return;
    fs.writeSync(this.fd, this.buf.join('\n') + '\n');
    this.buf = [];
    this.bufLen = 0;
  }

  close(): void {
    this.flush();
    fs.closeSync(this.fd);
  }

  discard(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      /* already closed */
    }
    fs.rmSync(this.file, { force: true });
  }
}

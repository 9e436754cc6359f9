/**
 * Importing a layer: the blob's bytes are hashed, decompressed, hashed again and parsed as a tar
 * in one pass; every regular file becomes a store object; the result is the layer's tree listing.
 * Nothing is trusted: paths are normalised and refused when unsafe, and the caller checks both
 * digests before the layer is committed.
 */
import fs from 'node:fs';
import { Parser, type ReadEntry } from 'tar';
import type { ObjectDir } from '../store/objects.js';
import { objectHasher } from '../store/objects.js';
import { SLAB_BYTES, type ObjectWriter } from '../store/object-writer.js';
import type { TreeEntry } from '../store/types.js';
import { uncompressedStream, type StreamDigests } from './decompress.js';
import { PaxXattrScanner } from './pax-xattrs.js';
import { basename, dirname, normalizeEntryPath, UnsafePathError } from './safepath.js';

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

  // extended attributes, which node-tar does not give: read from the same bytes, just before it
  const xattrScanner = new PaxXattrScanner();
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      if (failure) return entry.resume();
      try {
        onEntry(entry);
      } catch (e) {
        fail(e as Error);
        entry.resume();
      }
    },
  });
  parser.on('warn', (_code: string, msg: string | Error) => fail(new LayerFormatError(`bad tar: ${String(msg)}`)));
  parser.on('error', (e: Error) => fail(new LayerFormatError(`bad tar: ${e.message}`)));

  function onEntry(entry: ReadEntry): void {
    const path = normalizeEntryPath(entry.path);
    const mode = (entry.mode ?? 0o644) & 0o7777;
    const uid = entry.uid ?? 0;
    const gid = entry.gid ?? 0;
    const mtime = entry.mtime ? Math.floor(entry.mtime.getTime() / 1000) : 0;
    const base = basename(path);
    if (base.startsWith('.wh.')) {
      entry.resume();
      if (base === '.wh..wh..opq') entries.push({ path: dirname(path), type: 'o', mode: 0, uid: 0, gid: 0, mtime: 0 });
      else if (!base.startsWith('.wh..wh.')) {
        const dir = dirname(path);
        const name = base.slice(4);
        entries.push({ path: dir ? `${dir}/${name}` : name, type: 'w', mode: 0, uid: 0, gid: 0, mtime: 0 });
      }
      return;
    }
    switch (entry.type) {
      case 'File':
      case 'OldFile':
      case 'ContiguousFile':
        return readFile(entry, { path, type: 'f', mode, uid, gid, mtime, size: entry.size, xattrs: xattrScanner.take(entry.path) });
      case 'Directory':
        entry.resume();
        if (path) entries.push({ path, type: 'd', mode, uid, gid, mtime });
        return;
      case 'SymbolicLink':
        entry.resume();
        if (!path) throw new UnsafePathError('a symlink entry replaces the root directory');
        entries.push({ path, type: 'l', mode: 0o777, uid, gid, mtime, link: entry.linkpath ?? '' });
        return;
      case 'Link': {
        entry.resume();
        const target = normalizeEntryPath(entry.linkpath ?? '', `hardlink target of "${entry.path}"`);
        if (!target) throw new UnsafePathError(`hardlink "${entry.path}" points at the root directory`);
        entries.push({ path, type: 'h', mode, uid, gid, mtime, link: target });
        return;
      }
      case 'CharacterDevice':
      case 'BlockDevice':
      case 'FIFO':
        entry.resume();
        entries.push({ path, type: 'x', mode, uid, gid, mtime });
        return;
      default:
        entry.resume();
        throw new LayerFormatError(`unsupported tar entry type ${entry.type} for "${entry.path}"`);
    }
  }

  function readFile(entry: ReadEntry, te: TreeEntry): void {
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
      entry.on('data', (c: Buffer) => {
        hash.update(c);
        if (off === 0 && c.length === size) first = c;
        else {
          if (off === 0) scratch = scratch.length >= size ? scratch : Buffer.allocUnsafe(Math.max(size, 64 * 1024));
          c.copy(scratch, off);
        }
        off += c.length;
        // written as soon as it is whole, while the piece is certainly still as the parser gave it
        if (off === size && !failure) {
          const id = hash.digest('hex');
          writer.writeSmall(id, first ?? scratch.subarray(0, size), meta, te.mtime);
          done(id);
        }
      });
      entry.on('end', () => {
        if (size === 0 && !failure) {
          const id = hash.digest('hex');
          writer.writeSmall(id, EMPTY, meta, te.mtime);
          done(id);
        }
      });
      return;
    }
    const large = writer.openLarge(meta);
    entry.on('data', (c: Buffer) => {
      if (failure) return;
      hash.update(c);
      large.chunk(c);
    });
    entry.on('end', () => {
      if (failure) return;
      const id = hash.digest('hex');
      large.commit(id, te.mtime);
      done(id);
    });
  }

  try {
    for await (const chunk of stream) {
      if (failure) break;
      xattrScanner.write(chunk);
      parser.write(chunk);
      const wait = writer.backpressure();
      if (wait) await wait;
      if (writer.error) fail(writer.error);
    }
    if (!failure) {
      await new Promise<void>((resolve) => {
        parser.on('end', resolve);
        parser.end();
      });
    }
  } catch (e) {
    fail(e as Error);
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

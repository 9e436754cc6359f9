/**
 * Layer byte streams: hash the blob as it arrives, detect its compression by magic bytes (media
 * types lie: docker archives label plain tars as gzip), decompress, and hash the uncompressed
 * stream (the diff_id). One pass, bounded memory.
 */
import zlib from 'node:zlib';
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { CorruptStreamError, zstdDecompress } from './zstd.js';

export { CorruptStreamError };

export type Compression = 'gzip' | 'zstd' | 'none';

export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

export interface StreamDigests {
  /** sha256 hex of the bytes as received */
  blob: string;
  blobSize: number;
  /** sha256 hex of the uncompressed bytes */
  diff: string;
  diffSize: number;
  compression: Compression;
}

/**
 * Yields the uncompressed bytes of `input`; `done()` gives the digests once the generator has been
 * consumed to the end.
 */
export function uncompressedStream(input: AsyncIterable<Buffer>, onBytes?: (n: number) => void) {
  const blobHash = crypto.createHash('sha256');
  const diffHash = crypto.createHash('sha256');
  let blobSize = 0;
  let diffSize = 0;
  let compression: Compression = 'none';
  let finished = false;

  async function* raw(): AsyncGenerator<Buffer> {
    for await (const chunk of input) {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      blobHash.update(b);
      blobSize += b.length;
      onBytes?.(b.length);
      yield b;
    }
  }

  async function* plain(): AsyncGenerator<Buffer> {
    const it = raw()[Symbol.asyncIterator]();
    // Collect enough bytes to recognise the format.
    const headChunks: Buffer[] = [];
    let headLen = 0;
    let ended = false;
    while (headLen < 4) {
      const r = await it.next();
      if (r.done) {
        ended = true;
        break;
      }
      headChunks.push(r.value);
      headLen += r.value.length;
    }
    const head = Buffer.concat(headChunks);
    compression = detectCompression(head);
    async function* rest(): AsyncGenerator<Buffer> {
      if (head.length) yield head;
      if (ended) return;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    }
    if (compression === 'none') {
      yield* rest();
    } else if (compression === 'gzip') {
      const gunzip = zlib.createGunzip({ chunkSize: 256 * 1024 });
      const src = Readable.from(rest());
      src.on('error', (e) => gunzip.destroy(e));
      src.pipe(gunzip);
      try {
        for await (const c of gunzip) yield c as Buffer;
      } catch (err) {
        // Only zlib's own errors mean a bad stream; the source's (a dropped download) pass through.
        const code = (err as NodeJS.ErrnoException).code;
        if (typeof code === 'string' && code.startsWith('Z_')) {
          throw new CorruptStreamError(`gzip stream is truncated or corrupt (${(err as Error).message})`);
        }
        throw err;
      }
    } else {
      yield* zstdDecompress(rest());
    }
  }

  async function* hashed(): AsyncGenerator<Buffer> {
    for await (const c of plain()) {
      // a plain tar's uncompressed bytes are the blob's: hashed once, as the blob
      if (compression !== 'none') diffHash.update(c);
      diffSize += c.length;
      yield c;
    }
    finished = true;
  }

  return {
    stream: hashed(),
    done(): StreamDigests {
      if (!finished) throw new Error('stream not consumed');
      const blob = blobHash.digest('hex');
      return { blob, blobSize, diff: compression === 'none' ? blob : diffHash.digest('hex'), diffSize, compression };
    },
  };
}

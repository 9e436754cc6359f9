/**
 * Worker thread that writes store objects, so that creating files (kernel time) overlaps with
 * decompressing, hashing and parsing on the main thread. Each message names a slab of shared
 * memory holding file data, with the operations that use it; the reply hands the slab back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ObjectCreator, ObjectDir } from './objects.js';
import type { WriterMessage, WriterReply } from './object-writer.js';

const objects = new ObjectDir(workerData.objectsDir as string, workerData.tmpDir as string);
const creator = new ObjectCreator(objects, workerData.dir as string);
/** the slabs of shared memory the main thread fills, by number */
const slabs: SharedArrayBuffer[] = [];
const EMPTY = new Uint8Array(0);
/** large files being written, by key */
const open = new Map<number, { fd: number; tmp: string }>();

parentPort!.on('message', ({ slab, ops, buffer }: WriterMessage & { buffer?: SharedArrayBuffer }) => {
  if (buffer) slabs[slab] = buffer;
  const created: string[] = [];
  const view = (off: number, len: number) => (len ? new Uint8Array(slabs[slab], off, len) : EMPTY);
  let error: string | undefined;
  let errorCode: string | undefined;
  let errorHint: string | undefined;
  try {
    for (const op of ops) {
      switch (op.op) {
        case 'small':
          if (creator.create(op.id, view(op.off, op.len), op.meta, op.mtime)) created.push(op.id);
          break;
        case 'open':
          open.set(op.key, creator.open(op.meta));
          break;
        case 'chunk':
          creator.write(open.get(op.key)!.fd, view(op.off, op.len));
          break;
        case 'commit': {
          const f = open.get(op.key)!;
          open.delete(op.key);
          if (creator.commit(f.fd, f.tmp, op.id, op.meta, op.mtime)) created.push(op.id);
          break;
        }
        case 'drop': {
          const f = open.get(op.key)!;
          open.delete(op.key);
          creator.discard(f.fd, f.tmp);
          break;
        }
      }
    }
  } catch (err) {
    error = (err as Error).message;
    errorCode = (err as NodeJS.ErrnoException).code;
    errorHint = (err as { hint?: string }).hint;
    for (const f of open.values()) {
      try {
        creator.discard(f.fd, f.tmp);
      } catch {
        /* best effort */
      }
    }
    open.clear();
  }
  const reply: WriterReply = { slab, created, error, errorCode, errorHint };
  parentPort!.postMessage(reply);
});

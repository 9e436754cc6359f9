/**
 * Worker thread that writes store objects, so that creating files (kernel time) overlaps with
 * decompressing, hashing and parsing on the main thread. Messages are batches of operations;
 * every batch is acknowledged with the bytes it freed and the objects it created.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ObjectDir } from './objects.js';
import type { WriterOp, WriterReply } from './object-writer.js';
import fs from 'node:fs';

const objects = new ObjectDir(workerData.objectsDir as string, workerData.tmpDir as string);
const open = new Map<number, { fd: number; tmp: string }>();

parentPort!.on('message', (ops: WriterOp[]) => {
  const created: string[] = [];
  let bytes = 0;
  try {
    for (const op of ops) {
      switch (op.op) {
        case 'small':
          bytes += op.data.byteLength;
          if (objects.writeBuffer(op.id, Buffer.from(op.data), op.meta, op.mtime)) created.push(op.id);
          break;
        case 'open':
          open.set(op.key, objects.openTemp());
          break;
        case 'chunk': {
          bytes += op.data.byteLength;
          const f = open.get(op.key)!;
          fs.writeSync(f.fd, Buffer.from(op.data));
          break;
        }
        case 'commit': {
          const f = open.get(op.key)!;
          open.delete(op.key);
          if (objects.commit(f.fd, f.tmp, op.id, op.meta, op.mtime)) created.push(op.id);
          break;
        }
      }
    }
    parentPort!.postMessage({ bytes, created } satisfies WriterReply);
  } catch (err) {
    for (const f of open.values()) {
      try {
        fs.closeSync(f.fd);
        fs.rmSync(f.tmp, { force: true });
      } catch {
        /* best effort */
      }
    }
    parentPort!.postMessage({ bytes, created, error: (err as Error).message } satisfies WriterReply);
  }
});

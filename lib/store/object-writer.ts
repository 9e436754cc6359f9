/**
 * Writes store objects on a worker thread with bounded bytes in flight. The main thread keeps
 * hashing and parsing while the worker creates files; `backpressure()` makes the producer wait
 * when the worker falls behind, so memory stays flat whatever the layer size.
 */
import { Worker } from 'node:worker_threads';
import type { ObjectDir, ObjectMeta } from './objects.js';

export type WriterOp =
  | { op: 'small'; id: string; meta: ObjectMeta; mtime: number; data: Uint8Array }
  | { op: 'open'; key: number }
  | { op: 'chunk'; key: number; data: Uint8Array }
  | { op: 'commit'; key: number; id: string; meta: ObjectMeta; mtime: number };

export interface WriterReply {
  bytes: number;
  created: string[];
  error?: string;
}

const MAX_IN_FLIGHT = 8 * 1024 * 1024;
const BATCH_BYTES = 1024 * 1024;
const BATCH_OPS = 256;

export class ObjectWriter {
  private worker: Worker;
  private batch: WriterOp[] = [];
  private transfer: ArrayBuffer[] = [];
  private batchBytes = 0;
  private inFlight = 0;
  private pending = 0;
  private queued = new Set<string>();
  private waiters: Array<() => void> = [];
  private nextKey = 0;
  readonly created: string[] = [];
  error?: Error;

  constructor(private readonly objects: ObjectDir) {
    this.worker = new Worker(new URL('./object-writer-worker.js', import.meta.url), {
      workerData: { objectsDir: objects.dir, tmpDir: objects.tmpDirPath },
      // A small young generation makes the worker collect written buffers soon.
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    });
    this.worker.on('message', (r: WriterReply) => {
      this.inFlight -= r.bytes;
      this.pending--;
      this.created.push(...r.created);
      if (r.error) this.error ??= new Error(`writing store objects: ${r.error}`);
      this.wake();
    });
    this.worker.on('error', (e) => {
      this.error ??= e;
      this.pending = 0;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Already stored, or queued by this writer. */
  has(id: string): boolean {
    return this.queued.has(id) || this.objects.has(id);
  }

  private push(op: WriterOp, data?: Uint8Array): void {
    this.batch.push(op);
    if (data) {
      this.transfer.push(data.buffer as ArrayBuffer);
      this.batchBytes += data.byteLength;
      this.inFlight += data.byteLength;
    }
    if (this.batchBytes >= BATCH_BYTES || this.batch.length >= BATCH_OPS) this.flushBatch();
  }

  private flushBatch(): void {
    if (!this.batch.length) return;
    this.pending++;
    this.worker.postMessage(this.batch, this.transfer);
    this.batch = [];
    this.transfer = [];
    this.batchBytes = 0;
  }

  /** A whole small file; `data` must own its ArrayBuffer (it is transferred). */
  writeSmall(id: string, data: Uint8Array, meta: ObjectMeta, mtime: number): void {
    if (this.has(id)) return;
    this.queued.add(id);
    this.push({ op: 'small', id, meta, mtime, data }, data);
  }

  /** A large file streamed in chunks; chunks are copied (tar's buffers are shared). */
  openLarge(): { chunk: (b: Buffer) => void; commit: (id: string, meta: ObjectMeta, mtime: number) => void } {
    const key = this.nextKey++;
    this.push({ op: 'open', key });
    return {
      chunk: (b) => {
        const copy = new Uint8Array(b.length);
        copy.set(b);
        this.push({ op: 'chunk', key, data: copy }, copy);
      },
      commit: (id, meta, mtime) => {
        this.queued.add(id);
        this.push({ op: 'commit', key, id, meta, mtime });
      },
    };
  }

  /** Resolves when the worker has caught up enough; undefined when no wait is needed. */
  backpressure(): Promise<void> | undefined {
    if (this.inFlight < MAX_IN_FLIGHT && !this.error) return undefined;
    this.flushBatch();
    return new Promise<void>((resolve) => {
      const check = () => (this.inFlight < MAX_IN_FLIGHT / 2 || this.error || this.pending === 0 ? resolve() : this.waiters.push(check));
      check();
    });
  }

  /** Waits until everything queued so far is written (the worker keeps running). */
  async drain(): Promise<void> {
    this.flushBatch();
    while (this.pending > 0 && !this.error) await new Promise<void>((r) => this.waiters.push(r));
    if (this.error) throw this.error;
  }

  /** Waits for every write; returns the objects created. Always stops the worker. */
  async finish(): Promise<string[]> {
    try {
      await this.drain();
    } finally {
      await this.worker.terminate();
    }
    return this.created;
  }

  async abort(): Promise<string[]> {
    this.flushBatch();
    while (this.pending > 0) await new Promise<void>((r) => this.waiters.push(r));
    await this.worker.terminate();
    return this.created;
  }
}

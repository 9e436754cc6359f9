/**
 * Writes store objects on worker threads with bounded bytes in flight. The main thread keeps
 * hashing and parsing while the workers create files; `backpressure()` makes the producer wait
 * when they fall behind, so memory stays flat whatever the layer size.
 *
 * File data travels in slabs of shared memory that each worker owns a few of, handed back and
 * forth by index: the main thread copies each file's bytes into a slab once, and nothing is
 * allocated per file or per chunk, or transferred (buffers allocated or moved between threads by
 * the hundred megabytes keep V8 collecting garbage all the time).
 * Two workers, because creating many small files is kernel time that one thread cannot keep up
 * with; every file goes whole to the worker with less work queued.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { SysctrError } from '../errors.js';
import type { ObjectDir, ObjectMeta } from './objects.js';

export type WriterOp =
  | { op: 'small'; off: number; len: number; id: string; meta: ObjectMeta; mtime: number }
  | { op: 'open'; key: number; meta: ObjectMeta }
  | { op: 'chunk'; key: number; off: number; len: number }
  | { op: 'commit'; key: number; id: string; meta: ObjectMeta; mtime: number }
  | { op: 'drop'; key: number };

/** `off`/`len` of the ops are in slab number `slab` (-1: none) of the worker's. */
export interface WriterMessage {
  slab: number;
  ops: WriterOp[];
}

export interface WriterReply {
  slab: number;
  created: string[];
  error?: string;
  /** the failure's errno code (ENOSPC, EACCES...) and hint, which do not survive the thread boundary on their own */
  errorCode?: string;
  errorHint?: string;
}

/** A small file (up to this size) always fits one slab. */
export const SLAB_BYTES = 1 << 20;
const LANES = 2;
/** messages sent and not yet answered, over all workers, before the producer waits */
const MAX_IN_FLIGHT = 8;
/** slabs per worker: enough for its share of MAX_IN_FLIGHT and the one being filled */
const SLABS = MAX_IN_FLIGHT + 2;
/** ops without data (many empty files) are sent in batches of this many */
const BATCH_OPS = 512;

class Lane {
  readonly worker: Worker;
  /** shared with the worker; a slab is the worker's from when it is sent until the reply */
  private readonly slabs: SharedArrayBuffer[] = [];
  private free: number[] = [];
  private slab = -1;
  private used = 0;
  private ops: WriterOp[] = [];
  /** slabs the worker has been sent */
  private known = new Set<number>();
  /** messages sent and not answered */
  pending = 0;

  constructor(objects: ObjectDir, readonly dir: string, private readonly owner: ObjectWriter) {
    for (let i = 0; i < SLABS; i++) this.free.push(SLABS - 1 - i);
    this.worker = new Worker(new URL('./object-writer-worker.js', import.meta.url), {
      workerData: { objectsDir: objects.dir, tmpDir: objects.tmpDirPath, dir },
      // the worker allocates almost nothing: a small young generation is enough
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    });
    this.worker.on('message', (r: WriterReply) => {
      this.pending--;
      if (r.slab >= 0) this.free.push(r.slab);
      owner.replied(r);
    });
    this.worker.on('error', (e) => owner.failed(e, this));
  }

  /** bytes waiting here: what a new file would queue behind */
  get load(): number {
    return this.pending * SLAB_BYTES + this.used;
  }

  private take(): number {
    // past SLABS only if the producer ignored backpressure; `view` creates the slab
    return this.free.pop() ?? this.slabs.length;
  }

  /** Copies `data` into the current slab (a fresh one when it does not fit); returns its offset. */
  private put(data: Uint8Array): number {
    if (this.slab < 0 || this.used + data.byteLength > SLAB_BYTES) {
      if (this.used > 0) this.flush();
      if (this.slab < 0) this.slab = this.take();
    }
    const off = this.used;
    this.view(this.slab, off, data.byteLength).set(data);
    this.used += data.byteLength;
    return off;
  }

  private view(slab: number, off: number, len: number): Uint8Array {
    this.slabs[slab] ??= new SharedArrayBuffer(SLAB_BYTES);
    return new Uint8Array(this.slabs[slab], off, len);
  }

  small(id: string, data: Uint8Array, meta: ObjectMeta, mtime: number): void {
    const off = data.byteLength ? this.put(data) : 0;
    this.push({ op: 'small', off, len: data.byteLength, id, meta, mtime });
  }

  /** A piece of a large file: split where a slab ends. */
  chunk(key: number, data: Uint8Array): void {
    for (let pos = 0; pos < data.byteLength; ) {
      const room = this.slab >= 0 && this.used < SLAB_BYTES ? SLAB_BYTES - this.used : SLAB_BYTES;
      const piece = data.subarray(pos, pos + room);
      const off = this.put(piece);
      this.push({ op: 'chunk', key, off, len: piece.byteLength });
      pos += piece.byteLength;
    }
  }

  push(op: WriterOp): void {
    this.ops.push(op);
    if (this.ops.length >= BATCH_OPS) this.flush();
  }

  flush(): void {
    if (!this.ops.length) return;
    const slab = this.used > 0 ? this.slab : -1;
    const msg: WriterMessage & { buffer?: SharedArrayBuffer } = { slab, ops: this.ops };
    // a slab the worker has not seen yet goes with the message (shared, not copied)
    if (slab >= 0 && !this.known.has(slab)) {
      msg.buffer = this.slabs[slab];
      this.known.add(slab);
    }
    this.worker.postMessage(msg);
    this.pending++;
    this.owner.sent();
    if (slab >= 0) this.slab = -1;
    this.used = 0;
    this.ops = [];
  }
}

export class ObjectWriter {
  private lanes: Lane[];
  private inFlight = 0;
  private queued = new Set<string>();
  private waiters: Array<() => void> = [];
  private nextKey = 0;
  readonly created: string[] = [];
  error?: Error;

  constructor(objects: ObjectDir) {
    const base = path.join(objects.tmpDirPath, `objects-${process.pid}-${Date.now().toString(36)}`);
    this.lanes = Array.from({ length: LANES }, (_, i) => new Lane(objects, `${base}-${i}`, this));
  }

  /** @internal a lane posted a message */
  sent(): void {
    this.inFlight++;
  }

  /** @internal a worker answered */
  replied(r: WriterReply): void {
    this.inFlight--;
    this.created.push(...r.created);
    if (r.error) this.error ??= writerError(r);
    this.wake();
  }

  /** @internal a worker died: nothing more will come from it */
  failed(e: Error, lane: Lane): void {
    this.error ??= e;
    this.inFlight -= lane.pending;
    lane.pending = 0;
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private lane(): Lane {
    return this.lanes[0].load <= this.lanes[1].load ? this.lanes[0] : this.lanes[1];
  }

  /** Already queued by this writer (whether it is on disk already, the worker checks). */
  has(id: string): boolean {
    return this.queued.has(id);
  }

  /** A whole small file (at most SLAB_BYTES); `data` is copied before this returns. */
  writeSmall(id: string, data: Uint8Array, meta: ObjectMeta, mtime: number): void {
    if (this.queued.has(id)) return;
    this.queued.add(id);
    this.lane().small(id, data, meta, mtime);
  }

  /** A large file streamed in chunks; each chunk is copied before `chunk` returns. */
  openLarge(meta: ObjectMeta): { chunk: (b: Uint8Array) => void; commit: (id: string, mtime: number) => void } {
    const key = this.nextKey++;
    const lane = this.lane();
    lane.push({ op: 'open', key, meta });
    return {
      chunk: (b) => lane.chunk(key, b),
      commit: (id, mtime) => {
        if (this.queued.has(id)) return lane.push({ op: 'drop', key });
        this.queued.add(id);
        lane.push({ op: 'commit', key, id, meta, mtime });
      },
    };
  }

  private busy(): boolean {
    return this.lanes.some((l) => l.pending > 0);
  }

  /** Resolves when the workers have caught up enough; undefined when no wait is needed. */
  backpressure(): Promise<void> | undefined {
    if (this.inFlight < MAX_IN_FLIGHT && !this.error) return undefined;
    return new Promise<void>((resolve) => {
      const check = () => (this.inFlight <= MAX_IN_FLIGHT / 2 || this.error || !this.busy() ? resolve() : this.waiters.push(check));
      check();
    });
  }

  /** Waits until everything queued so far is written (the workers keep running). */
  async drain(): Promise<void> {
    for (const l of this.lanes) l.flush();
    while (this.busy() && !this.error) await new Promise<void>((r) => this.waiters.push(r));
    if (this.error) throw this.error;
  }

  private async stop(): Promise<void> {
    await Promise.all(this.lanes.map((l) => l.worker.terminate()));
    // what is left there is temp files of objects that were not committed
    for (const l of this.lanes) fs.rmSync(l.dir, { recursive: true, force: true });
  }

  /** Waits for every write; returns the objects created. Always stops the workers. */
  async finish(): Promise<string[]> {
    try {
      await this.drain();
    } finally {
      await this.stop();
    }
    return this.created;
  }

  /** Waits for what was sent (so that `created` is complete), then stops the workers. */
  async abort(): Promise<string[]> {
    for (const l of this.lanes) l.flush();
    while (this.busy()) await new Promise<void>((r) => this.waiters.push(r));
    await this.stop();
    return this.created;
  }
}

/**
 * A worker's failure, as the user should see it: a SysctrError when it is the machine's problem
 * (a hint from the worker, a permission, a missing tool), with its errno code kept for callers
 * that say more (a full disk: lib/store/space.ts).
 */
function writerError(r: WriterReply): Error {
  const message = `writing store objects: ${r.error}`;
  // the errno code travels as the cause (errorCodeOf finds it): a SysctrError's own code is its exit status
  const cause = r.errorCode ? Object.assign(new Error(r.error), { code: r.errorCode }) : undefined;
  if (r.errorHint) return new SysctrError(message, { hint: r.errorHint, cause });
  if (r.errorCode === 'EACCES' || r.errorCode === 'EPERM' || r.errorCode === 'EROFS') {
    return new SysctrError(message, { cause, hint: 'the store must be writable by sysctr: check its permissions and mount, or choose another with --root DIR' });
  }
  return r.errorCode ? new SysctrError(message, { cause }) : new Error(message);
}

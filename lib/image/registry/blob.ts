/**
 * A blob as one continuous Readable even when the connection drops mid-stream: the rest is asked
 * for with `Range: bytes=N-` (206), or, from a server that ignores Range (200), the first N bytes
 * are skipped. Nothing here checks digests: the pull pipeline hashes what it reads.
 */
import { Readable } from 'node:stream';
import { SysctrError } from '../../errors.js';
import { sleep } from './client.js';
import { isTransientNetworkError, networkErrorMessage } from './errors.js';

export interface ResumableBlobParams {
  /** GET the blob, from `offset` on when > 0 (the caller adds the Range header) */
  open: (offset: number) => Promise<Response>;
  /** the opening response for offset 0, already checked to be 200 */
  first: Response;
  /** expected size from the descriptor; -1 when unknown */
  size: number;
  /** "blob sha256:... of REF from REGISTRY", for errors */
  what: string;
  retries: number;
  retryDelayMs: number;
  /** the client's timeout, for messages */
  timeoutMs?: number;
  onBytes?: (n: number) => void;
  onRetry?: (info: { attempt: number; delayMs: number; reason: string; what: string }) => void;
}

class PrematureEnd extends Error {}

/** Where a 206 answer starts, from `Content-Range: bytes START-END/TOTAL`. */
function rangeStart(res: Response): number | undefined {
  const m = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
  return m ? Number(m[1]) : undefined;
}

async function* blobChunks(p: ResumableBlobParams): AsyncGenerator<Buffer> {
  let res = p.first;
  let offset = 0;
  let attempt = 0;
  let supportsRanges = (res.headers.get('accept-ranges') ?? '').toLowerCase().includes('bytes');
  for (;;) {
    /** bytes of this response to drop: a 200 answer to a resume starts from 0 again */
    let skip = 0;
    if (offset > 0) {
      if (res.status === 206) {
        const start = rangeStart(res);
        if (start !== offset) {
          await res.body?.cancel();
          throw new SysctrError(`${p.what}: resuming at byte ${offset}, the server answered bytes from ${start ?? '?'}`);
        }
      } else skip = offset;
    }
    const body = res.body;
    if (!body) throw new SysctrError(`${p.what}: the registry answered without a body`);
    const reader = body.getReader();
    let received = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        let chunk = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
        if (skip > 0) {
          const drop = Math.min(skip, chunk.length);
          skip -= drop;
          chunk = chunk.subarray(drop);
          if (chunk.length === 0) continue;
        }
        received += chunk.length;
        offset += chunk.length;
        if (p.size >= 0 && offset > p.size) throw new SysctrError(`${p.what}: the registry sent more than the ${p.size} bytes the manifest names`);
        p.onBytes?.(chunk.length);
        yield chunk;
      }
      if (p.size < 0 || offset === p.size) return;
      throw new PrematureEnd(`connection closed after ${offset} of ${p.size} bytes`);
    } catch (err) {
      if (err instanceof SysctrError) throw err;
      if (!(err instanceof PrematureEnd) && !isTransientNetworkError(err)) throw err;
      const reason = err instanceof PrematureEnd ? err.message : `${networkErrorMessage(err, p.timeoutMs)} after ${offset} bytes`;
      if (received > 0) attempt = 0; // progress was made: the budget is per stall, not per blob
      if (attempt >= p.retries) {
        throw new SysctrError(`${p.what}: download failed (${reason}; gave up after ${p.retries} retries)`, { cause: err });
      }
      if (offset > 0 && !supportsRanges) {
        throw new SysctrError(`${p.what}: download failed (${reason}) and the registry does not support resuming (no Accept-Ranges)`, {
          cause: err,
        });
      }
      attempt++;
      const delayMs = p.retryDelayMs * 2 ** (attempt - 1);
      p.onRetry?.({ attempt, delayMs, reason, what: p.what });
      await sleep(delayMs);
      try {
        res = await p.open(offset);
      } catch (openErr) {
        if (openErr instanceof SysctrError) {
          throw new SysctrError(`${p.what}: download failed (${reason}); resuming failed: ${openErr.message}`, { cause: openErr });
        }
        throw openErr;
      }
      if (res.status !== 200 && res.status !== 206) {
        await res.body?.cancel();
        throw new SysctrError(`${p.what}: download failed (${reason}); resuming got HTTP ${res.status}`);
      }
      if (res.status === 206) supportsRanges = true;
    } finally {
      // closes the connection when the consumer stopped early; a no-op on a finished body
      reader.cancel().catch(() => undefined);
    }
  }
}

/** The blob's bytes as a Readable; destroying it cancels the download. */
export function resumableBlobStream(p: ResumableBlobParams): Readable {
  return Readable.from(blobChunks(p), { objectMode: false, highWaterMark: 1 << 20 });
}

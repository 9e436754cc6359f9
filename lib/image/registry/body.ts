/** Reading response bodies with a cap: what a server sends beyond it is an error, not memory. */
import { SysctrError } from '../../errors.js';
import { networkErrorMessage } from './errors.js';

/**
 * Reads at most `max` bytes of a body: more is an error, not a memory problem. `what` names the
 * body in that error ("the manifest", "the token answer").
 */
export async function readLimited(res: Response, max: number, where: string, what = 'the manifest', timeoutMs?: number): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? -1);
  const tooBig = () => new SysctrError(`${where}: ${what} is larger than ${max} bytes; refused`);
  if (declared > max) {
    await res.body?.cancel();
    throw tooBig();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  if (!res.body) return Buffer.alloc(0);
  try {
    for await (const value of res.body as AsyncIterable<Uint8Array>) {
      total += value.byteLength;
      if (total > max) throw tooBig(); // leaving the loop cancels the body
      chunks.push(Buffer.from(value));
    }
  } catch (err) {
    if (err instanceof SysctrError) throw err;
    throw new SysctrError(`${where}: reading ${what} failed after ${total} bytes: ${networkErrorMessage(err, timeoutMs)}`, { cause: err });
  }
  return Buffer.concat(chunks);
}

/** An error answer's body: enough for the registry's message, never more. */
export async function errorBody(res: Response, where: string): Promise<string> {
  const b = await readLimited(res, 64 << 10, where, 'the error answer').catch(() => Buffer.alloc(0));
  return b.toString('utf8');
}

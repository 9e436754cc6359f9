/**
 * zstd layers, decompressed by the zstd program in a child process. Node 20 has no zstd of its
 * own, and the pure-JS decoder kept a whole step's output in memory: a 137 KB layer of zeros
 * took 4.2 GB, and a frame header could ask for a 2 GiB window. The program streams through a
 * pipe (the pipe's buffer and backpressure bound what waits in memory), refuses windows over
 * its memory limit, and decodes several times faster.
 */
import { spawn } from 'node:child_process';
import { SysctrError } from '../errors.js';

/** zstd's own default decompression limit, said explicitly: frames needing a larger window are refused. */
export const ZSTD_MAX_WINDOW = '128MB';

/** Thrown for streams that end early or do not decompress; the message names the format. */
export class CorruptStreamError extends Error {}

/**
 * Yields the decompressed bytes of `input`. An error of the source (a dropped download) passes
 * through unchanged; the decoder's own failures become CorruptStreamError.
 */
export async function* zstdDecompress(input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const child = spawn('zstd', ['-d', '-c', '-q', `--memory=${ZSTD_MAX_WINDOW}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    if (stderr.length < 4096) stderr += s;
  });
  const exited = new Promise<{ code: number | null; spawnError?: NodeJS.ErrnoException }>((resolve) => {
    child.once('error', (e) => resolve({ code: null, spawnError: e as NodeJS.ErrnoException }));
    child.once('close', (code) => resolve({ code }));
  });
  let sourceError: unknown;
  // EPIPE when zstd stops reading (it failed): its exit status says why
  child.stdin.on('error', () => undefined);
  const feeding = (async () => {
    try {
      for await (const chunk of input) {
        if (!child.stdin.write(chunk)) {
          await new Promise<void>((r) => {
            const done = () => {
              child.stdin.off('drain', done);
              child.stdin.off('close', done);
              r();
            };
            child.stdin.on('drain', done);
            child.stdin.on('close', done);
          });
        }
        if (child.stdin.destroyed) break;
      }
      child.stdin.end();
    } catch (err) {
      sourceError = err;
      child.kill('SIGKILL');
    }
  })();
  let finished = false;
  try {
    for await (const c of child.stdout) yield c as Buffer;
    finished = true;
  } finally {
    // the consumer stopped early (or failed): nothing more is needed from the child
    if (!finished) child.kill('SIGKILL');
    await feeding;
  }
  const { code, spawnError } = await exited;
  if (sourceError) throw sourceError;
  if (spawnError) {
    if (spawnError.code === 'ENOENT') {
      throw new SysctrError('this image has zstd-compressed layers, and the zstd program is not installed', { hint: 'apt-get install zstd' });
    }
    throw spawnError;
  }
  if (code !== 0) {
    const why = stderr.replace(/\/\*stdin\*\\ : /g, '').replace(/^zstd: /, '').replace(/\s+/g, ' ').trim() || `zstd exited with status ${code}`;
    const window = /Window size larger than maximum : (\d+) > (\d+)/.exec(why);
    if (window) {
      const mib = (n: string) => `${Math.ceil(Number(n) / 2 ** 20)} MiB`;
      throw new CorruptStreamError(`zstd frame needs a ${mib(window[1])} window to decode, more than the ${mib(window[2])} allowed; refused`);
    }
    if (/too much memory/.test(why)) throw new CorruptStreamError(`zstd frame needs more than ${ZSTD_MAX_WINDOW} to decode; refused`);
    throw new CorruptStreamError(`zstd stream is truncated or corrupt (${why})`);
  }
}

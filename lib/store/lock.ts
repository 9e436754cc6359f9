/**
 * The store lock: an exclusive flock(2) held by a small `flock` child process for as long as this
 * process holds the lock. The kernel releases it when the holder dies (the child sees EOF on its
 * stdin and exits), so a killed sysctr never leaves a stale lock for the next command to break.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { SysctrError } from '../errors.js';

export interface HeldLock {
  release(): Promise<void>;
}

export async function acquireLock(
  lockFile: string,
  opts: { onWait?: () => void; timeoutMs?: number; shared?: boolean } = {},
): Promise<HeldLock> {
  fs.closeSync(fs.openSync(lockFile, 'a'));
  const child: ChildProcess = spawn('flock', [opts.shared ? '--shared' : '--exclusive', lockFile, 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  await new Promise<void>((resolve, reject) => {
    const waitTimer = setTimeout(() => opts.onWait?.(), 500);
    const limit = opts.timeoutMs
      ? setTimeout(() => {
          child.kill();
          reject(new SysctrError(`timed out waiting for the store lock ${lockFile}: another sysctr command holds it`));
        }, opts.timeoutMs)
      : undefined;
    const done = () => {
      clearTimeout(waitTimer);
      if (limit) clearTimeout(limit);
    };
    child.stdout!.once('data', () => {
      done();
      resolve();
    });
    child.once('error', (err) => {
      done();
      reject(new SysctrError(`cannot take the store lock: ${err.message} (is util-linux's flock installed?)`));
    });
    child.once('exit', (code) => {
      done();
      reject(new SysctrError(`cannot take the store lock ${lockFile}: flock exited ${code}${stderr ? `: ${stderr.trim()}` : ''}`));
    });
  });
  child.removeAllListeners('exit');
  // The lock must not keep the event loop alive on its own.
  child.unref();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  (child.stderr as unknown as { unref?: () => void }).unref?.();
  return {
    release: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        // Keep the process alive until flock has really let go.
        child.ref();
        child.once('exit', () => resolve());
        child.stdin!.end();
      }),
  };
}

/**
 * The store lock: flock(2) on a lock file, taken on an open file description that this process
 * keeps. Node cannot call flock itself, so a `flock` child locks the descriptor it inherits as its
 * fd 3 and exits: the lock belongs to the shared open file description, not to the child, and
 * stays held until this process closes its descriptor — or dies, when the kernel closes it. A
 * killed sysctr therefore never leaves a stale lock, and no helper process outlives the request.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { SysctrError } from '../errors.js';

export interface HeldLock {
  release(): Promise<void>;
}

export function acquireLock(
  lockFile: string,
  opts: { onWait?: () => void; timeoutMs?: number; shared?: boolean } = {},
): Promise<HeldLock> {
  // The request starts before this returns (the child is spawned synchronously), so a caller can
  // do lock-free work while flock waits and runs on the other core.
  let fd: number;
  try {
    fd = fs.openSync(lockFile, 'a');
  } catch (err) {
    return Promise.reject(new SysctrError(`cannot open the lock file ${lockFile}: ${(err as Error).message}`));
  }
  const args = [opts.shared ? '--shared' : '--exclusive'];
  if (opts.timeoutMs) args.push('--wait', String(opts.timeoutMs / 1000), '--conflict-exit-code', '75');
  args.push('3');
  const child = spawn('flock', args, { stdio: ['ignore', 'ignore', 'pipe', fd] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise<HeldLock>((resolve, reject) => {
    const waitTimer = setTimeout(() => opts.onWait?.(), 500);
    // a child that cannot start emits 'error' and then 'close': the first one settles
    let settled = false;
    const fail = (err: SysctrError) => {
      if (settled) return;
      settled = true;
      clearTimeout(waitTimer);
      fs.closeSync(fd);
      reject(err);
    };
    child.once('error', (err) => fail(new SysctrError(`cannot take the store lock: ${err.message} (is util-linux's flock installed?)`)));
    child.once('close', (code) => {
      if (code === 75) return fail(new SysctrError(`timed out waiting for the lock ${lockFile}: another sysctr command holds it`));
      if (code !== 0) return fail(new SysctrError(`cannot take the lock ${lockFile}: flock exited ${code}${stderr ? `: ${stderr.trim()}` : ''}`));
      if (settled) return;
      settled = true;
      clearTimeout(waitTimer);
      let open = true;
      resolve({
        release: async () => {
          if (open) fs.closeSync(fd);
          open = false;
        },
      });
    });
  });
}

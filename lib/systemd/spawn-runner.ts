/**
 * The Runner that runs host programs for real, on node:child_process (importing execa would cost
 * more than the whole `systemctl show` of a `containers list`). Throws SysctrError on a non-zero
 * exit unless allowFailure.
 */
import { execFile } from 'node:child_process';
import { SysctrError } from '../errors.js';
import { commandLine, type RunOptions, type RunResult, type Runner } from '../proc.js';

export class SpawnRunner implements Runner {
  run(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        file,
        args,
        { env: opts.env ? { ...process.env, ...opts.env } : process.env, timeout: opts.timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
        (err, stdout, stderr) => {
          const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
          if (e && typeof e.code === 'string') {
            reject(new SysctrError(`cannot run ${file}: ${e.code === 'ENOENT' ? 'not found' : e.message}`));
            return;
          }
          const exitCode = e ? (typeof e.code === 'number' ? e.code : 1) : 0;
          const res = { exitCode, stdout: stdout.replace(/\n$/, ''), stderr: stderr.replace(/\n$/, '') };
          if (exitCode !== 0 && !opts.allowFailure) {
            const detail = (res.stderr || res.stdout).trim().split('\n').slice(-3).join(' / ');
            reject(new SysctrError(`${commandLine(file, args)} failed (exit ${exitCode})${detail ? `: ${detail}` : ''}`));
            return;
          }
          resolve(res);
        },
      );
      if (opts.input !== undefined) child.stdin?.end(opts.input);
      else child.stdin?.end();
    });
  }
}

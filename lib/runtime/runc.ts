/**
 * A thin wrapper over an OCI runtime's command line (runc's): state, list, exec, run, kill, delete.
 * Everything goes through a Runner, so `--dry-run` prints the commands; the interactive forms
 * (exec/run with the caller's terminal) spawn with inherited stdio.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Runner } from '../proc.js';

export interface ContainerState {
  id: string;
  pid: number;
  /** creating, created, running, paused, stopped */
  status: string;
  bundle: string;
}

export class Runc {
  /**
   * `root` is runc's --root (state dir); undefined = runc's default (/run/runc as root).
   * `dryRun`: the interactive forms go to the runner (which prints) instead of a terminal.
   */
  constructor(
    readonly runner: Runner,
    readonly runtime: string,
    readonly opts: { root?: string; dryRun?: boolean } = {},
  ) {}

  private args(rest: string[]): string[] {
    return this.opts.root ? ['--root', this.opts.root, ...rest] : rest;
  }

  /** The container's state, or undefined when the runtime does not know it. */
  async state(id: string): Promise<ContainerState | undefined> {
    const r = await this.runner.run(this.runtime, this.args(['state', id]), { allowFailure: true });
    if (r.exitCode !== 0 || !r.stdout.trim()) return undefined;
    return JSON.parse(r.stdout) as ContainerState;
  }

  async list(): Promise<ContainerState[]> {
    const r = await this.runner.run(this.runtime, this.args(['list', '--format', 'json']));
    const parsed = JSON.parse(r.stdout.trim() || 'null') as ContainerState[] | null;
    return parsed ?? [];
  }

  /** Sends a signal to the container's init; false when it is not running. */
  async kill(id: string, signal = 'TERM'): Promise<boolean> {
    const r = await this.runner.run(this.runtime, this.args(['kill', id, signal]), { allowFailure: true });
    return r.exitCode === 0;
  }

  /** Removes the container (killing it first); no error when it does not exist. */
  async delete(id: string): Promise<void> {
    await this.runner.run(this.runtime, this.args(['delete', '-f', id]), { allowFailure: true });
  }

  /** `runc exec ID CMD...` with the caller's stdio; returns the exit status. */
  exec(id: string, cmd: string[]): Promise<number> {
    return this.interactive(this.args(['exec', id, ...cmd]));
  }

  /** `runc run --bundle DIR ID` in the foreground with the caller's stdio; returns the exit status. */
  run(id: string, bundle: string): Promise<number> {
    return this.interactive(this.args(['run', '--bundle', bundle, id]));
  }

  /**
   * `runc exec ID CMD...` with its output captured (stdout and stderr together, the first 64 KiB),
   * killed after `timeoutMs`. The process runs in the container, not under runc: a timeout kills it
   * by the host PID runc wrote (--pid-file), then runc itself.
   */
  async execCaptured(id: string, cmd: string[], timeoutMs: number): Promise<{ exitCode: number; output: string; timedOut: boolean }> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sysctr-exec-'));
    const pidFile = path.join(dir, 'pid');
    try {
      return await new Promise((resolve, reject) => {
        const child = spawn(this.runtime, this.args(['exec', '--pid-file', pidFile, id, ...cmd]), { stdio: ['ignore', 'pipe', 'pipe'] });
        const chunks: Buffer[] = [];
        let size = 0;
        const take = (b: Buffer) => {
          if (size < 65536) chunks.push(b.subarray(0, 65536 - size));
          size += b.length;
        };
        child.stdout.on('data', take);
        child.stderr.on('data', take);
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          try {
            process.kill(Number(fs.readFileSync(pidFile, 'utf8').trim()), 'SIGKILL');
          } catch {
            /* not started yet, or gone */
          }
          child.kill('SIGKILL');
        }, timeoutMs);
        child.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          resolve({ exitCode: code ?? 128 + (signal ? os.constants.signals[signal] : 0), output: Buffer.concat(chunks).toString('utf8'), timedOut });
        });
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  private async interactive(args: string[]): Promise<number> {
    if (this.opts.dryRun) {
      await this.runner.run(this.runtime, args);
      return 0;
    }
    return new Promise((resolve, reject) => {
      const child = spawn(this.runtime, args, { stdio: 'inherit' });
      child.on('error', reject);
      child.on('close', (code, signal) => resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0)));
    });
  }
}

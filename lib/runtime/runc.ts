/**
 * A thin wrapper over an OCI runtime's command line (runc's): state, list, exec, run, kill, delete.
 * Everything goes through a Runner, so `--dry-run` prints the commands; the interactive forms
 * (exec/run with the caller's terminal) spawn with inherited stdio.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
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

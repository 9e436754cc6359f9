/**
 * Deployment operations are sequences of named steps (docs/design.md, "Journaled steps"). Each operation
 * writes a journal first and removes it last, so the next command can tell a half-done operation
 * and finish or undo it. `SYSCTR_FAULT_STEP=<op>:<step>` kills the process with SIGKILL right after
 * that step: the crash-matrix tests use it to stop an operation at every step in turn.
 * `SYSCTR_STEP_TIMES=1` prints how long each step took (stderr), for benchmarks.
 */

/** The steps of each operation, in order (a step may be skipped, e.g. `start` without --now). */
export const STEPS = {
  install: ['journal', 'checkout', 'volumes', 'host-files', 'unit-files', 'info', 'symlink', 'daemon-reload', 'tmpfiles', 'enable', 'start', 'finish'],
  uninstall: ['journal', 'disable', 'container', 'unit-files', 'daemon-reload', 'tmpfiles', 'host-files', 'symlink', 'deployments', 'volumes', 'finish'],
  // lib/deploy/backup.ts
  backup: ['journal', 'stop', 'archive', 'start', 'finish'],
  restore: ['journal', 'stop', 'volumes', 'start', 'finish'],
  // update/rollback share the switch steps (lib/deploy/switch.ts); update-revert is update's
  // automatic way back when the new deployment does not start
  // snapshot / restore-data: the data volumes (lib/deploy/snapshot.ts), with the service stopped
  update: ['journal', 'clear-slot', 'checkout', 'volumes', 'stop', 'snapshot', 'host-files', 'unit-files', 'enable', 'symlink', 'daemon-reload', 'tmpfiles', 'start', 'settle', 'finish'],
  'update-revert': ['journal', 'stop', 'restore-data', 'host-files', 'unit-files', 'enable', 'symlink', 'daemon-reload', 'tmpfiles', 'start', 'finish'],
  rollback: ['journal', 'stop', 'restore-data', 'host-files', 'unit-files', 'enable', 'symlink', 'daemon-reload', 'tmpfiles', 'start', 'finish'],
} as const;

export type Operation = keyof typeof STEPS;
export type StepName<O extends Operation> = (typeof STEPS)[O][number];

export class StepRunner<O extends Operation> {
  readonly done: string[] = [];

  constructor(
    readonly op: O,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** Runs one step; then, when asked to, dies as a crash would. */
  async step<T>(name: StepName<O>, fn: () => T | Promise<T>): Promise<T> {
    const started = performance.now();
    const result = await fn();
    this.done.push(name);
    if (this.env.SYSCTR_STEP_TIMES) process.stderr.write(`sysctr: ${this.op}:${name} ${(performance.now() - started).toFixed(0)} ms\n`);
    if (this.env.SYSCTR_FAULT_STEP === `${this.op}:${name}`) {
      process.stderr.write(`sysctr: SYSCTR_FAULT_STEP: killing myself after ${this.op}:${name}\n`);
      process.kill(process.pid, 'SIGKILL');
      await new Promise(() => {}); // SIGKILL is not handled; nothing after this runs
    }
    return result;
  }
}

/** start / stop NAME: systemctl start/stop of an installed container's unit, then its state. */
import { SysctrError } from '../errors.js';
import type { Paths } from '../paths.js';
import type { Runner } from '../proc.js';
import { SpawnRunner } from '../systemd/spawn-runner.js';
import { Systemd, containerState } from '../systemd/systemctl.js';
import { validateName } from './names.js';
import { containerPaths, liveDeployment, readJournal, withContainersLock } from './state.js';

export interface StartStopResult {
  name: string;
  unit: string;
  /** the unit's state before and after (after = before with dryRun) */
  before: string;
  state: string;
  /** the unit was not already in the state asked for (so systemctl had something to do) */
  changed: boolean;
  dryRun?: boolean;
}

/** a state in which `systemctl start` has nothing to do; any other state is "stopped" for stop */
const RUNNING = new Set(['running', 'active', 'exited', 'activating', 'reloading']);

export async function startStopContainer(
  paths: Paths, rawName: string, verb: 'start' | 'stop', runner: Runner = new SpawnRunner(), opts: { dryRun?: boolean; out?: (l: string) => void } = {},
): Promise<StartStopResult> {
  const name = validateName(rawName);
  const c = containerPaths(paths, name);
  if (readJournal(c) && !opts.dryRun) {
    // a killed command left an operation half done: finish (or undo) it first (recover.ts)
    const { finishInterrupted } = await import('./recover.js');
    const ctx = { paths, runner, dryRun: false, out: opts.out ?? ((l: string) => process.stdout.write(l + '\n')) };
    await withContainersLock(paths.root, ctx.out, () => finishInterrupted(ctx, name));
  }
  if (!liveDeployment(c)) {
    throw new SysctrError(`${name} is not installed`, { hint: 'see sysctr containers list --all' });
  }
  const systemd = new Systemd(runner, paths.user);
  const unit = `${name}.service`;
  const before = containerState((await systemd.show([unit])).get(unit));
  const changed = verb === 'start' ? !RUNNING.has(before) : RUNNING.has(before);
  if (opts.dryRun) return { name, unit, before, state: before, changed, dryRun: true };
  // systemctl runs either way: a start also retries a unit in a failed state that reads as stopped
  if (verb === 'start') await systemd.start(unit);
  else await systemd.stop(unit);
  return { name, unit, before, state: containerState((await systemd.show([unit])).get(unit)), changed };
}

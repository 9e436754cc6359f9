/** start / stop NAME: systemctl start/stop of an installed container's unit, then its state. */
import { SysctrError } from '../errors.js';
import type { Paths } from '../paths.js';
import type { Runner } from '../proc.js';
import { SpawnRunner } from '../systemd/spawn-runner.js';
import { Systemd, containerState } from '../systemd/systemctl.js';
import { validateName } from './names.js';
import { containerPaths, liveDeployment, readJournal, withContainersLock } from './state.js';

export async function startStopContainer(paths: Paths, rawName: string, verb: 'start' | 'stop', runner: Runner = new SpawnRunner()): Promise<string> {
  const name = validateName(rawName);
  const c = containerPaths(paths, name);
  if (readJournal(c)) {
    // a killed command left an operation half done: finish (or undo) it first (recover.ts)
    const { finishInterrupted } = await import('./recover.js');
    const ctx = { paths, runner, dryRun: false, out: (l: string) => process.stdout.write(l + '\n') };
    await withContainersLock(paths.root, ctx.out, () => finishInterrupted(ctx, name));
  }
  if (!liveDeployment(c)) {
    throw new SysctrError(`${name} is not installed`, { hint: 'see sysctr containers list --all' });
  }
  const systemd = new Systemd(runner, paths.user);
  const unit = `${name}.service`;
  if (verb === 'start') await systemd.start(unit);
  else await systemd.stop(unit);
  return containerState((await systemd.show([unit])).get(unit));
}

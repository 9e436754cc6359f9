/** Options and the runner shared by the commands that act on installed containers. */
import { usageError } from '../../lib/errors.js';
import { pathsFrom, printWarning, type GlobalArgs } from '../context.js';
import { lineWriter } from '../output.js';

export const hostOptions = {
  system: { type: 'boolean', describe: 'system mode: systemctl, /etc/systemd/system (the default)', conflicts: 'user' },
  user: { type: 'boolean', describe: 'user mode: systemctl --user, ~/.config/systemd/user' },
  'unit-dir': { type: 'string', describe: 'where units are written; env SYSCTR_UNIT_DIR' },
  'tmpfiles-dir': { type: 'string', describe: 'where tmpfiles confs are written; env SYSCTR_TMPFILES_DIR' },
  'host-root': { type: 'string', describe: "where an image's /exports/hostfs files go (default /); env SYSCTR_HOST_ROOT" },
} as const;

/** install / containers update --auto-update (docs/auto-update.md) */
export const autoUpdateOption = {
  type: 'string',
  choices: ['registry', 'local', 'disabled'],
  describe: 'what sysctr auto-update follows: registry (the tag on its registry), local (a newer image of the same name in the store), disabled',
} as const;

/** For the store's commands (pull, images, checkout, fsck): which store, as install --user uses it. */
export const storeUserOption = {
  type: 'boolean',
  describe: "the user's store (~/.local/share/containers/sysctr), the one install --user uses",
} as const;

/**
 * DryRunner for --dry-run (with `realQueries`, systemctl's queries still run, so a plan can follow
 * the units' real state); otherwise a child_process runner (loading execa costs ~0.1 s).
 */
export async function runnerFor(dryRun: boolean, opts: { realQueries?: boolean; out?: (l: string) => void } = {}): Promise<import('../../lib/proc.js').Runner> {
  const { SpawnRunner } = await import('../../lib/systemd/spawn-runner.js');
  if (dryRun) return new (await import('../../lib/proc.js')).DryRunner(opts.out, opts.realQueries ? new SpawnRunner() : undefined);
  return new SpawnRunner();
}

/**
 * The context of a command that acts on installed containers. --dry-run prints the commands that
 * change the host and runs only systemctl's queries (is it active, would it be stopped).
 */
export async function deployContext(args: GlobalArgs & { 'dry-run'?: boolean; json?: boolean }) {
  const dryRun = Boolean(args['dry-run']);
  return { paths: pathsFrom(args), runner: await runnerFor(dryRun, { realQueries: true, out: lineWriter(args.json) }), dryRun, out: lineWriter(args.json), warn: printWarning };
}

/** `--settle SECONDS` (install --now, containers update, rollback) as milliseconds; a usage error when it is not a number >= 0. */
export function settleMsFrom(value: unknown): number {
  if (!(Number(value) >= 0)) throw usageError(`--settle ${value}: expected a number of seconds`);
  return Math.round(Number(value) * 1000);
}

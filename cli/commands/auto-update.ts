/** sysctr auto-update: parse, call lib/deploy/auto-update, print (docs/auto-update.md). */
import type { CommandModule } from 'yargs';
import { usageError } from '../../lib/errors.js';
import { pathsFrom, printWarning, type GlobalArgs } from '../context.js';
import { lineWriter, printChange, shortId } from '../output.js';
import { hostOptions, runnerFor, settleMsFrom } from './host-options.js';
import { checkTimeout, registryOptions, registrySourceOptions, type RegistryArgs } from './registry-options.js';

interface Args extends GlobalArgs, RegistryArgs {
  names?: string[];
  'dry-run'?: boolean;
  json?: boolean;
  settle?: number;
  'install-timer'?: boolean;
  'remove-timer'?: boolean;
}

const short = (d?: string) => (d ? shortId(d) : '?');

const cmd: CommandModule<object, Args> = {
  builder: (y) =>
    y
      .positional('names', { type: 'string', array: true, describe: 'only these containers (default: every one installed with --auto-update)' })
      .options(hostOptions)
      .options(registryOptions)
      .check(checkTimeout)
      .option('dry-run', { type: 'boolean', describe: 'ask the registries and the store, report would-update, pull and change nothing' })
      .option('json', { type: 'boolean', describe: 'print one JSON object {changed, containers: [...]} (other output goes to stderr)' })
      .option('settle', { type: 'number', default: 2, describe: 'seconds an updated deployment must stay active, or it is rolled back' })
      .option('install-timer', { type: 'boolean', describe: 'write and start sysctr-auto-update.timer + .service (daily), and do nothing else', conflicts: ['remove-timer', 'dry-run'] })
      .option('remove-timer', { type: 'boolean', describe: 'stop and delete the timer and its service (only files sysctr wrote), and do nothing else', conflicts: ['dry-run'] })
      .example('$0 auto-update --dry-run', 'which containers a new image waits for, changing nothing')
      .example('$0 auto-update --json', 'update them now: one JSON object with each container\'s status and digests')
      .example('$0 auto-update --install-timer', 'run it daily (the first install --auto-update does this by itself)') as never,
  handler: async (args) => {
    const dryRun = Boolean(args['dry-run']);
    const out = lineWriter(args.json);
    const ctx = { paths: pathsFrom(args), runner: await runnerFor(dryRun, { realQueries: true, out }), dryRun, out, warn: printWarning };
    if (args['install-timer'] || args['remove-timer']) {
      if (args.names?.length) throw usageError('--install-timer and --remove-timer take no container names');
      const { installTimer, removeTimer } = await import('../../lib/deploy/auto-update/timer.js');
      const r = args['install-timer'] ? await installTimer(ctx) : await removeTimer(ctx);
      if (args.json) return printChange({ changed: r.changed, timer: args['install-timer'] ? 'installed' : 'removed', files: r.files });
      out(args['install-timer'] ? `auto-update timer ${r.changed ? 'installed and started' : 'already installed'}: ${r.files.join(', ')}` : r.changed ? `auto-update timer removed: ${r.files.join(', ')}` : 'no auto-update timer of sysctr\'s to remove');
      return;
    }
    const { autoUpdate } = await import('../../lib/deploy/auto-update/run.js');
    const report = await autoUpdate(ctx, {
      names: args.names?.map(String),
      source: registrySourceOptions(args),
      settleMs: settleMsFrom(args.settle),
      onItem: args.json ? undefined : (c) => {
        const digests = `${short(c.oldDigest)}${c.newDigest && c.newDigest !== c.oldDigest ? ` -> ${short(c.newDigest)}` : ''}`;
        const why = c.reason ? `: ${c.reason}` : '';
        if (c.status === 'failed') {
          process.stderr.write(`sysctr: ${c.name}: ${c.error}\n`);
          if (c.hint) process.stderr.write(`  hint: ${c.hint}\n`);
        }
        out(`${c.name}: ${c.status} (${c.image}, ${digests})${why}`);
      },
    });
    if (args.json) printChange({ changed: report.changed, ...(report.dryRun ? { dryRun: true } : {}), containers: report.containers });
    else if (!report.containers.length) out('no container is installed with --auto-update');
    if (report.containers.some((c) => c.status === 'failed' || c.status === 'rolled-back')) process.exitCode = 1;
  },
};
export default cmd;

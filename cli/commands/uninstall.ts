import type { CommandModule } from 'yargs';
import { pathsFrom, type GlobalArgs } from '../context.js';
import { hostOptions, runnerFor } from './host-options.js';

interface Args extends GlobalArgs {
  name: string;
  'dry-run'?: boolean;
  purge?: boolean;
}

// its command line and description are in commands/index.ts (--help loads no command module)
const cmd: CommandModule<object, Args> = {
  builder: (y) =>
    y
      .positional('name', { type: 'string', demandOption: true })
      .options(hostOptions)
      .option('dry-run', { type: 'boolean', describe: 'print what would be removed, change nothing' })
      .option('purge', { type: 'boolean', describe: 'also remove its data volumes (kept otherwise, for a later install)' }) as never,
  handler: async (args) => {
    const { uninstall } = await import('../../lib/deploy/uninstall.js');
    const dryRun = Boolean(args['dry-run']);
    const out = (l: string) => process.stdout.write(l + '\n');
    const r = await uninstall({ paths: pathsFrom(args), runner: await runnerFor(dryRun), dryRun, out }, String(args.name), { purge: args.purge });
    if (r.removed && !dryRun) out(`uninstalled ${r.name}`);
  },
};
export default cmd;

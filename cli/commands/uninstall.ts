import type { CommandModule } from 'yargs';
import { pathsFrom, type GlobalArgs } from '../context.js';
import { jsonChangeOption, lineWriter, printChange } from '../output.js';
import { hostOptions, runnerFor } from './host-options.js';

interface Args extends GlobalArgs {
  name: string;
  'dry-run'?: boolean;
  purge?: boolean;
  json?: boolean;
}

// its command line and description are in commands/index.ts (--help loads no command module)
const cmd: CommandModule<object, Args> = {
  builder: (y) =>
    y
      .positional('name', { type: 'string', demandOption: true })
      .options(hostOptions)
      .option('dry-run', { type: 'boolean', describe: 'print what would be removed, change nothing' })
      .option('purge', { type: 'boolean', describe: 'also remove its data volumes (kept otherwise, for a later install)' })
      .option('json', jsonChangeOption) as never,
  handler: async (args) => {
    const { uninstall } = await import('../../lib/deploy/uninstall.js');
    const dryRun = Boolean(args['dry-run']);
    const out = lineWriter(args.json);
    const r = await uninstall({ paths: pathsFrom(args), runner: await runnerFor(dryRun, { out }), dryRun, out }, String(args.name), { purge: args.purge });
    if (args.json) return printChange({ changed: r.removed, ...(dryRun ? { dryRun: true } : {}), name: r.name, unit: `${r.name}.service`, purge: Boolean(args.purge) });
    if (r.removed && !dryRun) out(`uninstalled ${r.name}`);
  },
};
export default cmd;

import type { CommandModule } from 'yargs';
import { pathsFrom, type GlobalArgs } from '../context.js';
import { jsonChangeOption, lineWriter, printChange } from '../output.js';
import { hostOptions } from './host-options.js';

interface Args extends GlobalArgs {
  name: string;
  json?: boolean;
  'dry-run'?: boolean;
}

function startStop(verb: 'start' | 'stop'): CommandModule<object, Args> {
  // its command line and description are in commands/index.ts (--help loads no command module)
  return {
    builder: (y) =>
      y
        .positional('name', { type: 'string', demandOption: true })
        .options(hostOptions)
        .option('json', jsonChangeOption)
        .option('dry-run', { type: 'boolean', describe: `say whether it would ${verb} the unit, change nothing` }) as never,
    handler: async (args) => {
      const [{ startStopContainer }, { SpawnRunner }] = await Promise.all([import('../../lib/deploy/service.js'), import('../../lib/systemd/spawn-runner.js')]);
      const r = await startStopContainer(pathsFrom(args), String(args.name), verb, new SpawnRunner(), { dryRun: args['dry-run'], out: lineWriter(args.json) });
      if (args.json) return printChange({ ...r });
      process.stdout.write(r.dryRun ? `${r.name}: ${r.state}${r.changed ? ` (would ${verb} it)` : ` (nothing to ${verb})`}\n` : `${r.name}: ${r.state}\n`);
    },
  };
}

export const start = startStop('start');
export const stop = startStop('stop');

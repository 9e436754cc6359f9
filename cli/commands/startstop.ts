import type { CommandModule } from 'yargs';
import { pathsFrom, type GlobalArgs } from '../context.js';
import { hostOptions } from './host-options.js';

interface Args extends GlobalArgs {
  name: string;
}

function startStop(verb: 'start' | 'stop'): CommandModule<object, Args> {
  // its command line and description are in commands/index.ts (--help loads no command module)
  return {
    builder: (y) => y.positional('name', { type: 'string', demandOption: true }).options(hostOptions) as never,
    handler: async (args) => {
      const { startStopContainer } = await import('../../lib/deploy/service.js');
      const state = await startStopContainer(pathsFrom(args), String(args.name), verb);
      process.stdout.write(`${args.name}: ${state}\n`);
    },
  };
}

export const start = startStop('start');
export const stop = startStop('stop');

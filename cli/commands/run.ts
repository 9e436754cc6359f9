import type { CommandModule } from 'yargs';
import { pathsFrom, type GlobalArgs } from '../context.js';
import { hostOptions, runnerFor } from './host-options.js';

interface Args extends GlobalArgs {
  name: string;
  cmd?: string[];
}

/** The command: positional words, or everything after `--` (yargs leaves those in `_`). */
function commandWords(args: Args & { _: (string | number)[] }): string[] {
  const words = (args.cmd ?? []).map(String);
  return words.length ? words : args._.slice(1).map(String);
}

// its command line and description are in commands/index.ts (--help loads no command module)
const cmd: CommandModule<object, Args> = {
  builder: (y) =>
    y
      .positional('name', { type: 'string', demandOption: true })
      .positional('cmd', { type: 'string', array: true, describe: 'command and arguments (after --)' })
      .options(hostOptions)
      .example('$0 run web -- cat /etc/os-release', '') as never,
  handler: async (args) => {
    const { runInContainer } = await import('../../lib/deploy/run.js');
    const out = (l: string) => process.stdout.write(l + '\n');
    const code = await runInContainer({ paths: pathsFrom(args), runner: await runnerFor(false), dryRun: false, out }, String(args.name), commandWords(args));
    process.exitCode = code;
  },
};
export default cmd;

import type { CommandModule } from 'yargs';
import { pathsFrom, type GlobalArgs } from '../context.js';
import { hostOptions, runnerFor } from './host-options.js';

interface Args extends GlobalArgs {
  name: string;
  /** CMD and its arguments, cut off the command line before yargs parsed it (cli/run-argv.ts) */
  command?: string[];
}

// its command line and description are in commands/index.ts (--help loads no command module)
const cmd: CommandModule<object, Args> = {
  builder: (y) =>
    y
      .positional('name', { type: 'string', demandOption: true })
      .positional('cmd', { type: 'string', array: true, describe: "the command and its arguments: everything after it is the command's, options included" })
      .options(hostOptions)
      .example('$0 run etcd etcdctl --endpoints=http://127.0.0.1:2379 get k', 'options after CMD are its own')
      .example('$0 run --root /srv/sysctr web -- cat /etc/os-release', "sysctr's options before CMD") as never,
  handler: async (args) => {
    const { runInContainer } = await import('../../lib/deploy/run.js');
    const out = (l: string) => process.stdout.write(l + '\n');
    const code = await runInContainer({ paths: pathsFrom(args), runner: await runnerFor(false), dryRun: false, out }, String(args.name), args.command ?? []);
    process.exitCode = code;
  },
};
export default cmd;

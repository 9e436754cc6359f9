/** healthcheck NAME: runs the container's health check once (lib/deploy/health.ts); exit 0 healthy, 1 unhealthy. */
import type { CommandModule } from 'yargs';
import { pathsFrom, type GlobalArgs } from '../context.js';
import { printJson } from '../output.js';
import { hostOptions } from './host-options.js';

interface Args extends GlobalArgs {
  name: string;
  json?: boolean;
}

// its command line and description are in commands/index.ts (--help loads no command module)
const cmd: CommandModule<object, Args> = {
  builder: (y) =>
    y
      .positional('name', { type: 'string', demandOption: true })
      .options(hostOptions)
      .option('json', { type: 'boolean', describe: 'print the result as one JSON object' }) as never,
  handler: async (args) => {
    const [{ runHealthcheck }, { SpawnRunner }] = await Promise.all([import('../../lib/deploy/health.js'), import('../../lib/systemd/spawn-runner.js')]);
    const r = await runHealthcheck({ paths: pathsFrom(args), runner: new SpawnRunner() }, String(args.name));
    if (args.json) printJson(r);
    else {
      process.stdout.write(`${r.name}: ${r.status}${r.timedOut ? ' (timed out)' : r.status === 'unhealthy' ? ` (exit ${r.exitCode})` : ''}\n`);
      if (r.output) process.stdout.write(r.output.endsWith('\n') ? r.output : `${r.output}\n`);
    }
    process.exitCode = r.status === 'healthy' ? 0 : 1;
  },
};
export default cmd;

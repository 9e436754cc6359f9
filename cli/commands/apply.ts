/** apply [DIR|FILE]: parse, call lib/deploy/apply.ts, print one line per container (or one object). */
import type { CommandModule } from 'yargs';
import { pathsFrom, printWarning, type GlobalArgs } from '../context.js';
import { jsonChangeOption, lineWriter, printChange } from '../output.js';
import { hostOptions, runnerFor, settleMsFrom } from './host-options.js';

interface Args extends GlobalArgs {
  source?: string;
  'dry-run'?: boolean;
  prune?: boolean;
  settle?: number;
  json?: boolean;
}

// its command line and description are in commands/index.ts (--help loads no command module)
const cmd: CommandModule<object, Args> = {
  builder: (y) =>
    y
      .positional('source', { type: 'string', describe: 'a directory of *.json/*.yaml/*.yml declarations, or one file (default /etc/sysctr/containers.d; --user: ~/.config/sysctr/containers.d)' })
      .options(hostOptions)
      .option('prune', { type: 'boolean', describe: 'uninstall containers that apply installed and no file declares any more (never one installed by hand)' })
      .option('settle', { type: 'number', default: 2, describe: 'seconds a started or updated service must stay active' })
      .option('dry-run', { type: 'boolean', describe: 'say what would change (the store as it is, no pull), change nothing' })
      .option('json', jsonChangeOption)
      .example('$0 apply', 'make the containers what /etc/sysctr/containers.d declares')
      .example('$0 apply --prune --json ./containers.d', 'and remove the ones no longer declared; one JSON object') as never,
  handler: async (args) => {
    const settleMs = settleMsFrom(args.settle);
    const { apply } = await import('../../lib/deploy/apply.js');
    const { defaultDeclarationDir } = await import('../../lib/deploy/apply-file.js');
    const dryRun = Boolean(args['dry-run']);
    const out = lineWriter(args.json);
    const paths = pathsFrom(args);
    const target = args.source ?? defaultDeclarationDir(paths.user);
    const r = await apply(
      { paths, runner: await runnerFor(dryRun, { realQueries: true, out }), dryRun, out, warn: printWarning },
      { target, prune: args.prune, settleMs },
    );
    for (const c of r.containers) {
      if (c.status === 'failed') {
        process.stderr.write(`sysctr: ${c.name}: ${c.error}\n`);
        if (c.hint) process.stderr.write(`  hint: ${c.hint}\n`);
      }
    }
    if (r.failed) process.exitCode = 1;
    if (args.json) return printChange({ changed: r.changed, dryRun, source: r.source, containers: r.containers, failed: r.failed });
    const verb = (s: string) => (dryRun && s !== 'unchanged' && s !== 'failed' ? `would be ${s}` : s);
    for (const c of r.containers) {
      const image = c.image ? ` ${c.image}` : '';
      const from = c.status === 'updated' && c.previousImage ? ` (was ${c.previousImage})` : '';
      out(`${c.name}: ${verb(c.status)}${image}${from}${c.wouldPull ? ', after a pull' : ''}${c.enablement ? `, ${c.enablement}` : ''}`);
    }
    out(`${r.containers.length} container${r.containers.length === 1 ? '' : 's'}, ${r.changed ? (dryRun ? 'changes to make' : 'changed') : 'nothing to change'}${r.failed ? `, ${r.failed} failed` : ''}`);
  },
};
export default cmd;

/** containers list: the command (for yargs) and runList, which cli/main.ts also calls directly. */
import type { CommandModule } from 'yargs';
import { pathsFrom, type GlobalArgs } from '../context.js';
import { hostOptions } from './host-options.js';

export interface ListArgs extends GlobalArgs {
  all?: boolean;
  json?: boolean;
  quiet?: boolean;
  trunc?: boolean;
  filter?: string | string[];
}

const FILTER_KEYS = ['name', 'image', 'state', 'runtime', 'health'];

export async function runList(args: ListArgs): Promise<void> {
  const [{ listContainers }, { SpawnRunner }, out] = await Promise.all([
    import('../../lib/deploy/list.js'),
    import('../../lib/systemd/spawn-runner.js'),
    import('../output.js'),
  ]);
  const filters = out.parseFilters(args.filter, FILTER_KEYS);
  // only --json prints the unit's details (Result, LoadState), which cost a slower systemctl call
  let rows = await listContainers(pathsFrom(args), new SpawnRunner(), { unitDetails: Boolean(args.json) });
  const explicitState = filters.some(([k]) => k === 'state');
  if (!args.all && !explicitState) rows = rows.filter((r) => r.state === 'running');
  rows = rows.filter((r) => filters.every(([k, v]) => out.filterMatches((r as unknown as Record<string, string>)[k], v)));
  if (args.quiet) {
    if (rows.length) process.stdout.write(rows.map((r) => r.name).join('\n') + '\n');
  } else if (args.json) {
    out.printJson(rows);
  } else {
    const noTrunc = args.trunc === false;
    out.printTable(rows, [
      { header: 'NAME', value: (r) => r.name },
      { header: 'IMAGE', value: (r) => r.image, trunc: 40 },
      { header: 'IMAGE ID', value: (r) => (r.imageId ? out.shortId(r.imageId, noTrunc) : '') },
      { header: 'COMMAND', value: (r) => r.command, trunc: 30 },
      { header: 'CREATED', value: (r) => out.ago(r.created) },
      { header: 'STATE', value: (r) => (r.pending ? `${r.state} (${r.pending} interrupted)` : r.state) },
      { header: 'HEALTH', value: (r) => r.health },
      { header: 'RUNTIME', value: (r) => r.runtime },
      { header: 'DEPLOYMENT', value: (r) => r.deployment },
      { header: 'ROLLBACK', value: (r) => (r.rollback ? `${r.rollback.deployment} ${r.rollback.image}` : ''), trunc: 40 },
    ], { noTrunc });
  }
}

export const list: CommandModule<object, ListArgs> = {
  command: 'list',
  aliases: ['ls'],
  describe: 'list installed containers (running ones; --all for every one)',
  builder: (y) =>
    y
      .options(hostOptions)
      .option('all', { alias: 'a', type: 'boolean', describe: 'also inactive and failed ones' })
      .option('json', { type: 'boolean', describe: 'JSON output' })
      .option('quiet', { alias: 'q', type: 'boolean', describe: 'names only' })
      // declared as `trunc`: yargs parses --no-trunc as its negation (an option named no-trunc is never set)
      .option('trunc', { type: 'boolean', default: true, describe: 'shorten ids and commands (--no-trunc: show them whole)' })
      .option('filter', { alias: 'f', type: 'string', describe: `KEY=VALUE (${FILTER_KEYS.join(', ')}; * globs)` }) as never,
  handler: runList,
};

import type { CommandModule } from 'yargs';
import { pathsFrom, type GlobalArgs } from '../context.js';
import { info, rollback, update } from './containers-update.js';

export const hostOptions = {
  system: { type: 'boolean', describe: 'system mode: systemctl, /etc/systemd/system (the default)', conflicts: 'user' },
  user: { type: 'boolean', describe: 'user mode: systemctl --user, ~/.config/systemd/user' },
  'unit-dir': { type: 'string', describe: 'where units are written; env SYSCTR_UNIT_DIR' },
  'tmpfiles-dir': { type: 'string', describe: 'where tmpfiles confs are written; env SYSCTR_TMPFILES_DIR' },
} as const;

/** DryRunner for --dry-run; otherwise a child_process runner (loading execa costs ~0.1 s). */
export async function runnerFor(dryRun: boolean): Promise<import('../../lib/proc.js').Runner> {
  if (dryRun) return new (await import('../../lib/proc.js')).DryRunner();
  return new (await import('../../lib/systemd/spawn-runner.js')).SpawnRunner();
}

interface ListArgs extends GlobalArgs {
  all?: boolean;
  json?: boolean;
  quiet?: boolean;
  trunc?: boolean;
  filter?: string[];
}

const FILTER_KEYS = ['name', 'image', 'state', 'runtime'];

const list: CommandModule<object, ListArgs> = {
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
  handler: async (args) => {
    const [{ listContainers }, { SpawnRunner }, out] = await Promise.all([
      import('../../lib/deploy/list.js'),
      import('../../lib/systemd/spawn-runner.js'),
      import('../output.js'),
    ]);
    const filters = out.parseFilters(args.filter, FILTER_KEYS);
    let rows = await listContainers(pathsFrom(args), new SpawnRunner());
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
        { header: 'RUNTIME', value: (r) => r.runtime },
        { header: 'DEPLOYMENT', value: (r) => r.deployment },
        { header: 'ROLLBACK', value: (r) => (r.rollback ? `${r.rollback.deployment} ${r.rollback.image}` : ''), trunc: 40 },
      ], { noTrunc });
    }
  },
};

const cmd: CommandModule = {
  command: 'containers <command>',
  describe: 'list, update and roll back installed containers',
  builder: (y) =>
    y
      .command(list)
      .command(update)
      .command(rollback)
      .command(info)
      .demandCommand(1, 'name a containers command: list, update, rollback, info') as never,
  handler: () => {},
};
export default cmd;

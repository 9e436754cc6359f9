/** containers update / rollback / info: parse, call lib/deploy, print. */
import type { CommandModule } from 'yargs';
import { pathsFrom, printWarning, reportItemError, type GlobalArgs } from '../context.js';
import { jsonChangeOption, printChange } from '../output.js';
import { autoUpdateOption, hostOptions, settleMsFrom, deployContext } from './host-options.js';

const say = (l: string) => process.stdout.write(l + '\n');


const dryRunOption = { type: 'boolean', describe: 'print what would change (files as diffs, commands), change nothing' } as const;

interface UpdateArgs extends GlobalArgs {
  'dry-run'?: boolean;
  name?: string;
  rebase?: string;
  set?: string[];
  pull?: boolean;
  all?: boolean;
  settle?: number;
  'no-snapshot'?: string[];
  json?: boolean;
  'auto-update'?: string;
}

export const update: CommandModule<object, UpdateArgs> = {
  command: 'update [name]',
  describe: 'deploy a new image or new values beside the live deployment and switch (back again if it does not start)',
  builder: (y) =>
    y
      .positional('name', { type: 'string', describe: 'the container' })
      .options(hostOptions)
      .option('rebase', { type: 'string', describe: 'move to this image (in the store, or a source to pull)' })
      .option('set', { type: 'string', describe: 'template variable NAME=VALUE (repeatable; kept with the earlier ones)' })
      .option('pull', { type: 'boolean', describe: 'pull the image reference first' })
      .option('all', { type: 'boolean', describe: 'every installed container' })
      .option('settle', { type: 'number', default: 2, describe: 'seconds the new deployment must stay active, or it is rolled back' })
      .option('no-snapshot', { type: 'string', describe: 'a data volume not to snapshot before switching (repeatable)' })
      .option('dry-run', dryRunOption)
      .option('json', jsonChangeOption)
      .option('auto-update', autoUpdateOption)
      .example('$0 containers update --auto-update=disabled web', 'stop following its tag (the daily timer goes with the last container that did)')
      .example('$0 containers update --rebase web:2 web', 'move web to the image web:2')
      .example('$0 containers update --set PORT=8081 web', 'same image, a new value')
      .example('$0 containers update --pull --all', 'pull every container\'s image again and update what changed')
      .example('$0 containers update --dry-run --all', 'what updating every container would change, changing nothing') as never,
  handler: async (args) => {
    const { assertUpdateArgs, update: doUpdate, updateAll } = await import('../../lib/deploy/update.js');
    assertUpdateArgs({ all: args.all, name: args.name, rebase: args.rebase });
    const settleMs = settleMsFrom(args.settle);
    const ctx = await deployContext(args);
    const set = args.set === undefined ? [] : ([] as unknown[]).concat(args.set).map(String);
    const noSnapshot = args['no-snapshot'] === undefined ? [] : ([] as unknown[]).concat(args['no-snapshot']).map(String);
    const { parsePolicy } = await import('../../lib/deploy/auto-update/policy.js');
    const o = { set, pull: args.pull, settleMs, noSnapshot, autoUpdate: parsePolicy(args['auto-update']) };
    type R = Awaited<ReturnType<typeof doUpdate>>;
    const report = (r: R): boolean => {
      if (args.json) {
        // reverted: a new deployment was made and given up, the host is not as it was; exit 1 says so
        if (!args.all) printChange({ changed: r.status !== 'up-to-date' || Boolean(r.policyChanged), ...r, dryRun: ctx.dryRun, unit: `${r.name}.service` });
        if (r.status !== 'reverted') return true; // a revert is said on stderr too, below
      } else if (r.dryRun) return true; // the plan is what was printed
      if (r.status === 'up-to-date' && r.policyChanged) say(`${r.name}: auto-update policy set to ${r.autoUpdate} (image and values unchanged: ${r.image} in ${r.to})`);
      else if (r.status === 'up-to-date') say(`${r.name} is already up to date (${r.image}, ${r.imageId.slice(7, 19)} in ${r.to})`);
      else if (r.status === 'updated') say(`updated ${r.name}: ${r.from} (${r.previousImage}) -> ${r.to} (${r.image})${r.restarted ? ', restarted' : ', not running (left stopped)'}`);
      else {
        process.stderr.write(`sysctr: ${r.name}: the new deployment ${r.to} (${r.image}) ${r.unhealthy ? 'is unhealthy' : 'did not start'}: ${r.reason}\n`);
        process.stderr.write(`  rolled back to ${r.from} (${r.previousImage})${r.restarted ? ', which is running again' : ''}; ${r.to} is kept for inspection (sysctr containers info ${r.name}, journalctl -u ${r.name}.service)\n`);
        return false;
      }
      return true;
    };
    if (args.all) {
      const containers: Array<Record<string, unknown>> = [];
      const failed = await updateAll(ctx, o, (name, r) => {
        if (r instanceof Error) {
          reportItemError(name, r);
          containers.push({ name, changed: false, error: r.message });
        } else {
          report(r);
          containers.push({ changed: r.status !== 'up-to-date' || Boolean(r.policyChanged), ...r, unit: `${r.name}.service` });
        }
      });
      if (args.json) printChange({ changed: containers.some((c) => c.changed), ...(ctx.dryRun ? { dryRun: true } : {}), containers });
      if (failed) process.exitCode = 1;
      return;
    }
    if (!report(await doUpdate(ctx, { ...o, name: String(args.name), rebase: args.rebase }))) process.exitCode = 1;
  },
};

interface NameArgs extends GlobalArgs {
  name: string;
  json?: boolean;
  'dry-run'?: boolean;
  'with-data'?: boolean;
}

export const rollback: CommandModule<object, NameArgs> = {
  command: 'rollback <name>',
  describe: 'switch back to the other deployment, as it was rendered',
  builder: (y) =>
    y
      .positional('name', { type: 'string', demandOption: true })
      .options(hostOptions)
      .option('dry-run', dryRunOption)
      .option('settle', { type: 'number', default: 2, describe: 'seconds the restarted deployment must stay active to count as up (0: do not wait)' })
      .option('with-data', { type: 'boolean', describe: 'also put back the data volumes as the last update found them (its snapshot)' })
      .option('json', jsonChangeOption)
      .example('$0 containers rollback web', 'back to the deployment before the last update')
      .example('$0 containers rollback --with-data web', 'and its data as it was before that update')
      .example('$0 containers rollback --dry-run web', 'show the switch without making it') as never,
  handler: async (args) => {
    const settleMs = settleMsFrom(args.settle);
    const { rollback: doRollback } = await import('../../lib/deploy/rollback.js');
    const r = await doRollback(await deployContext(args), String(args.name), { settleMs, withData: args['with-data'] });
    // a rollback always switches (run twice, it switches back): changed is false only when it finished an interrupted one
    if (args.json) return printChange({ changed: !r.finished, ...r, dryRun: Boolean(args['dry-run']) });
    if (r.finished || r.dryRun) return; // the plan, or finishing an interrupted rollback, was the job: both were printed
    say(`rolled back ${r.name}: ${r.from} -> ${r.to} (${r.image})${r.restarted ? ', restarted' : ', not running (left stopped)'}`);
    if (r.data) say(`restored its data (${r.data.volumes.join(', ')}) from the snapshot taken ${r.data.age} ago, before the update`);
    if (r.targetFailed) printWarning(`${r.to} had failed to start before: ${r.targetFailed}`);
  },
};

export const info: CommandModule<object, NameArgs> = {
  command: 'info <name>',
  describe: 'the live and the rollback deployment of a container, and the image each holds',
  builder: (y) => y.positional('name', { type: 'string', demandOption: true }).options(hostOptions).option('json', { type: 'boolean', describe: 'JSON output' }) as never,
  handler: async (args) => {
    const [{ describeContainer }, { SpawnRunner }, out] = await Promise.all([
      import('../../lib/deploy/describe.js'),
      import('../../lib/systemd/spawn-runner.js'),
      import('../output.js'),
    ]);
    const d = await describeContainer(pathsFrom(args), new SpawnRunner(), String(args.name));
    if (args.json) return out.printJson(d);
    say(`${d.name}: ${d.state}, live deployment ${d.live}${d.pending ? ` (a ${d.pending} was interrupted; the next command for ${d.name} finishes it)` : ''}`);
    out.printTable(d.deployments, [
      { header: 'DEPLOYMENT', value: (r) => r.deployment },
      { header: 'ROLE', value: (r) => (r.live ? 'live' : 'rollback') + (r.failed ? ' (failed to start)' : '') },
      { header: 'IMAGE', value: (r) => r.image },
      { header: 'IMAGE ID', value: (r) => out.shortId(r.imageId) },
      { header: 'CREATED', value: (r) => out.ago(r.created) },
      { header: 'SET', value: (r) => Object.entries(r.set).map(([k, v]) => `${k}=${v}`).join(' ') },
    ]);
    if (d.hostFiles.length) {
      say('host files:');
      for (const f of d.hostFiles) say(`  ${f.path} (from ${f.source}${f.template ? ', rendered' : ''}${f.type === 'file' ? '' : `, ${f.type}`})${f.state === 'as-written' ? '' : `: ${f.state}`}`);
    }
    if (d.volumes.length) {
      say('volumes:');
      for (const v of d.volumes) {
        const size = v.bytes !== undefined ? `, ${out.humanSize(v.bytes)}` : '';
        const snap = v.lastSnapshot ? `; snapshot taken ${out.ago(v.lastSnapshot.taken)}` : '';
        say(`  ${v.name} (${v.type}) ${v.mount} <- ${v.hostPath}${v.type === 'assets' ? ' (read-only)' : ''}${size}${snap}`);
      }
    }
  },
};

import type { CommandModule } from 'yargs';
import { pathsFrom, printWarning, type GlobalArgs } from '../context.js';
import { jsonChangeOption, lineWriter, printChange } from '../output.js';
import { autoUpdateOption, hostOptions, runnerFor, settleMsFrom } from './host-options.js';

interface Args extends GlobalArgs {
  image: string;
  name?: string;
  set?: string[];
  rootfs?: string;
  runtime?: string;
  now?: boolean;
  settle?: number;
  force?: boolean;
  'dry-run'?: boolean;
  json?: boolean;
  'auto-update'?: string;
}

// its command line and description are in commands/index.ts (--help loads no command module)
const cmd: CommandModule<object, Args> = {
  builder: (y) =>
    y
      .positional('image', { type: 'string', demandOption: true, describe: 'image in the store, or a source (oci:DIR:TAG, docker://...)' })
      .options(hostOptions)
      .option('name', { type: 'string', describe: 'container name (default: the image repository name)' })
      .option('set', { type: 'string', describe: 'template variable NAME=VALUE (repeatable)' })
      .option('rootfs', { type: 'string', describe: 'run this existing root filesystem instead of a checkout' })
      .option('runtime', { type: 'string', describe: 'OCI runtime path (default: runc from PATH)' })
      .option('now', { type: 'boolean', describe: 'start it as well' })
      .option('settle', { type: 'number', default: 2, describe: 'with --now: seconds it must stay active to count as started (0: do not wait)' })
      .option('force', { type: 'boolean', describe: "take over host files (/exports/hostfs) that already exist and are not sysctr's" })
      .option('dry-run', { type: 'boolean', describe: 'print the files and commands, change nothing' })
      .option('json', jsonChangeOption)
      .option('auto-update', autoUpdateOption)
      .example('$0 install --auto-update=registry --now docker://registry.example.org/web:1', 'follow the tag: sysctr auto-update (daily timer) updates it when the tag moves')
      .example('$0 install --name web --set PORT=8080 --now web:1', '')
      .example('$0 install --force --name etcd etcd:3.5', 'replace an existing /etc/etcd/etcd.conf with the image\'s (it then belongs to etcd)') as never,
  handler: async (args) => {
    const settleMs = settleMsFrom(args.settle);
    const { install } = await import('../../lib/deploy/install.js');
    const { parsePolicy } = await import('../../lib/deploy/auto-update/policy.js');
    const autoUpdate = parsePolicy(args['auto-update']);
    const dryRun = Boolean(args['dry-run']);
    const out = lineWriter(args.json);
    const r = await install(
      { paths: pathsFrom(args), runner: await runnerFor(dryRun, { out }), dryRun, out, warn: printWarning },
      { image: args.image, name: args.name, set: args.set === undefined ? [] : ([] as unknown[]).concat(args.set).map(String), rootfs: args.rootfs, runtime: args.runtime, now: args.now, settleMs, force: args.force, autoUpdate },
    );
    if (args.json) {
      const { status, ...rest } = r;
      return printChange({ changed: status === 'installed', ...rest, dryRun, unit: `${r.name}.service`, autoUpdate: r.autoUpdate, started: Boolean(args.now) && status === 'installed' && !dryRun });
    }
    if (r.status === 'installed' && !dryRun) out(`installed ${r.name} from ${r.image} in ${r.deployment}${args.now ? ' and started it' : ` (start it: sysctr start ${r.name})`}`);
  },
};
export default cmd;
